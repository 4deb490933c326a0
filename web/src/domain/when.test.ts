import { describe, expect, it } from 'vitest'
import { formatWhen } from './when'

describe('when, on the desk', () => {
  it('is a Chinese date without seconds on a zh-CN page', () => {
    // The case page, the file and the roster read "2026/12/7 11:13:56".
    expect(formatWhen('2026-12-07T03:13:56Z', 'zh-CN')).toMatch(/^2026年12月[78]日 \d{2}:13$/)
  })

  it('keeps the seconds where asked (the audit log)', () => {
    expect(formatWhen('2026-12-07T03:13:56Z', 'zh-CN', true)).toMatch(/^2026年12月[78]日 \d{2}:13:56$/)
  })

  it('names the month in English, on a 24-hour clock', () => {
    expect(formatWhen('2026-12-07T15:13:56Z', 'en')).toMatch(/^Dec [78], 2026, \d{2}:13$/)
  })
})
