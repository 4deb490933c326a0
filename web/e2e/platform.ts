// Starts the whole platform for the browser tests, as `make up` does, on free ports and a
// data dir of its own: real Kafka and PostgreSQL, intake, triage, casework (and notify and
// stats when built), and the gateway serving dist/. The demo accounts' passwords come from
// the data dir's demo-accounts.json. Stopped with Ctrl-C (SIGINT) when the tests end.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

export const STATE_FILE = resolve(import.meta.dirname, '..', '.e2e', 'platform.json')
const REPO = resolve(import.meta.dirname, '..', '..')
const READY = '[devstack] up; Ctrl-C stops everything'
const PORTS = [
  'SHOUWANG_KAFKA_PORT',
  'SHOUWANG_KAFKA_CONTROLLER_PORT',
  'SHOUWANG_POSTGRES_PORT',
  'INTAKE_PORT',
  'TRIAGE_PORT',
  'CASEWORK_PORT',
  'NOTIFY_PORT',
  'STATS_PORT',
  'GATEWAY_PORT',
]

export interface DemoAccount {
  username: string
  role: string
  sub: string
  password: string
}

export interface PlatformState {
  baseURL: string
  accounts: Record<string, DemoAccount>
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer()
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address ? done(address.port) : fail(new Error('no port'))))
    })
  })
}

function waitForLine(child: ChildProcess, line: string, within: number, log: string[]): Promise<void> {
  return new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`platform not up within ${within / 1000}s:\n${log.slice(-40).join('\n')}`)), within)
    const onData = (chunk: Buffer) => {
      for (const l of chunk.toString().split('\n')) {
        log.push(l)
        if (l.includes(line)) {
          clearTimeout(timer)
          done()
        }
      }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', (chunk: Buffer) => log.push(chunk.toString()))
    child.on('exit', (code) => {
      clearTimeout(timer)
      fail(new Error(`platform exited with ${code}:\n${log.slice(-40).join('\n')}`))
    })
  })
}

export default async function startPlatform(): Promise<() => Promise<void>> {
  mkdirSync(resolve(STATE_FILE, '..'), { recursive: true })
  if (process.env.SHOUWANG_E2E_BASE_URL) {
    const accounts = JSON.parse(readFileSync(process.env.SHOUWANG_E2E_ACCOUNTS ?? '', 'utf-8')) as DemoAccount[]
    writeState(process.env.SHOUWANG_E2E_BASE_URL, accounts)
    return async () => {}
  }
  const data = mkdtempSync(join(tmpdir(), 'shouwang-e2e-'))
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(process.env)) {
    // The platform starts its own servers and secrets, as on a fresh machine.
    if (value === undefined || key === 'KAFKA_BOOTSTRAP_SERVERS' || key === 'DATABASE_URL') continue
    if (/^(SHOUWANG_|INTAKE_|TRIAGE_|CASEWORK_|NOTIFY_|STATS_|GATEWAY_)/.test(key)) continue
    env[key] = value
  }
  const used = new Set<number>()
  for (const name of PORTS) {
    let port = await freePort()
    while (used.has(port)) port = await freePort()
    used.add(port)
    env[name] = String(port)
  }
  env.SHOUWANG_DATA_DIR = data
  const uv = process.env.UV ?? 'uv'
  const child = spawn(uv, ['run', 'shouwang-dev', 'up'], { cwd: REPO, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  const log: string[] = []
  await waitForLine(child, READY, 300_000, log)
  const accounts = JSON.parse(readFileSync(join(data, 'demo-accounts.json'), 'utf-8')) as DemoAccount[]
  writeState(`http://127.0.0.1:${env.GATEWAY_PORT}`, accounts)
  writeFileSync(resolve(STATE_FILE, '..', 'platform.log'), log.join('\n'))

  return async () => {
    if (child.pid && child.exitCode === null) {
      process.kill(-child.pid, 'SIGINT')
      await new Promise<void>((done) => {
        const timer = setTimeout(() => {
          if (child.pid) process.kill(-child.pid, 'SIGKILL')
          done()
        }, 60_000)
        child.on('exit', () => {
          clearTimeout(timer)
          done()
        })
      })
    }
    writeFileSync(resolve(STATE_FILE, '..', 'platform.log'), log.join('\n'))
    rmSync(data, { recursive: true, force: true })
  }
}

function writeState(baseURL: string, accounts: DemoAccount[]): void {
  const state: PlatformState = { baseURL, accounts: Object.fromEntries(accounts.map((a) => [a.username, a])) }
  writeFileSync(STATE_FILE, JSON.stringify(state), { mode: 0o600 })
}
