import { describe, expect, it } from 'vitest'
import { formatClock, formatWhen } from './when'

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

  it('reads five past midnight as 00:05 in English too, never 24:05', () => {
    // `hour12: false` gave "Dec 7, 2026, 24:05" and a held report "at about 24:05".
    const midnight = new Date(2026, 11, 7, 0, 5, 9)
    expect(formatWhen(midnight.toISOString(), 'en')).toBe('Dec 7, 2026, 00:05')
    expect(formatClock(midnight.getTime(), 'en')).toBe('00:05')
    expect(formatClock(midnight.getTime(), 'en', true)).toBe('00:05:09')
    expect(formatClock(midnight.getTime(), 'zh-CN')).toBe('00:05')
  })
})
