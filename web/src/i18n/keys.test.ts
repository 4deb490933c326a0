// Every message key the code names literally exists in both languages: a key that does not
// resolve shows its own name on the page (as `audit.title` and `column.student_no` once did,
// from blocks nested one level too deep).
import { describe, expect, it } from 'vitest'
import en from './en'
import zhCN from './zh-CN'
import { i18n } from './index'

const sources = import.meta.glob(['../**/*.vue', '../**/*.ts', '!../**/*.test.ts'], {
  query: '?raw',
  import: 'default',
  eager: true,
}) as Record<string, string>

const KEY = /(?<![\w.])\$?te?\(\s*'([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)+)'/g

function resolve(messages: object, key: string): unknown {
  return key.split('.').reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part], messages)
}

const used = [...new Set(Object.values(sources).flatMap((text) => [...text.matchAll(KEY)].flatMap((m) => (m[1] ? [m[1]] : []))))]

describe('message keys', () => {
  it('finds the keys the pages use', () => {
    expect(used).toContain('audit.title')
    expect(used).toContain('column.student_no')
  })
  it.each([
    ['zh-CN', zhCN],
    ['en', en],
  ])('every key used resolves to a message in %s', (_, messages) => {
    expect(used.filter((key) => typeof resolve(messages, key) !== 'string')).toEqual([])
  })
})

describe('counts', () => {
  // "Escalated 1 level(s)" read as unfinished English; Chinese has one form for every count.
  it.each([
    ['en', 1, 'Escalated 1 level'],
    ['en', 2, 'Escalated 2 levels'],
    ['zh-CN', 1, '已上报 1 级'],
    ['zh-CN', 3, '已上报 3 级'],
  ] as const)('%s says %i escalation level(s) in its own grammar', (locale, n, said) => {
    i18n.global.locale.value = locale
    expect(i18n.global.t('case.escalation', { n }, n)).toBe(said)
    expect(i18n.global.t('awaiting.escalated', { n }, n)).toBe(said)
  })
})
