// The report page's budget: under 200 KB of compressed JavaScript (what a phone on a weak
// network downloads before it can report). Walks Vite's manifest from the entry through the
// report route's chunks and their static imports, and sums their gzip sizes (as `.gz` files the
// build wrote, or gzip at level 9 otherwise). Prints the figure; fails the build above it.
import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { gzipSync } from 'node:zlib'

export const BUDGET_BYTES = 200 * 1024
const dist = resolve(import.meta.dirname, '..', 'dist')
const manifest = JSON.parse(readFileSync(resolve(dist, '.vite', 'manifest.json'), 'utf-8'))

/** Every chunk a route needs before it shows: the chunk and its static imports, transitively. */
export function closure(keys, chunks = manifest, seen = new Set()) {
  for (const key of keys) {
    if (seen.has(key)) continue
    seen.add(key)
    closure(chunks[key]?.imports ?? [], chunks, seen)
  }
  return seen
}

function gzipped(file) {
  const path = resolve(dist, file)
  return existsSync(path + '.gz') ? readFileSync(path + '.gz').length : gzipSync(readFileSync(path), { level: 9 }).length
}

const entry = Object.keys(manifest).find((key) => manifest[key].isEntry)
const route = Object.keys(manifest).find((key) => key.endsWith('src/report/ReportPage.vue'))
if (!entry || !route) throw new Error('the manifest names no entry or no report page')
const files = [...closure([entry, route])].map((key) => manifest[key].file).filter((f) => f.endsWith('.js'))
const total = files.reduce((sum, file) => sum + gzipped(file), 0)
const kb = (n) => (n / 1024).toFixed(1)
console.warn(`report page: ${kb(total)} KB of gzipped JavaScript in ${files.length} files (budget ${kb(BUDGET_BYTES)} KB, ${((100 * total) / BUDGET_BYTES).toFixed(0)} %)`)
if (files.some((f) => /element-plus|echarts/i.test(f)) || total > BUDGET_BYTES) {
  console.error('the report page is over its budget or loads the desk\'s libraries')
  process.exit(1)
}
