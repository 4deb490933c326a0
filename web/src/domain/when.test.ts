import { describe, expect, it } from 'vitest'
import { formatClock, formatWhen } from './when'

// Local times (the reader's clock), measured from a fixed "now": 7 December 2026, 17:39.
const NOW = new Date(2026, 11, 7, 17, 39, 0).getTime()
const at = (...parts: [number, number, number, number, number, number?]) => new Date(...parts).getTime()

describe('when, everywhere in the app', () => {
  it('shows its year when it is not this year: last December is not this one', () => {
    // The case history, the file and the receipts read "12月7日 17:39" for 7 December 2025.
    expect(formatWhen(at(2025, 11, 7, 17, 39), 'zh-CN', { now: NOW })).toBe('2025年12月7日 17:39')
    expect(formatWhen(at(2025, 11, 7, 17, 39), 'en', { now: NOW })).toBe('Dec 7, 2025, 17:39')
    // A follow-up due next year too.
    expect(formatWhen(at(2027, 0, 4, 9, 30), 'zh-CN', { now: NOW })).toBe('2027年1月4日 09:30')
  })

  it('keeps this year short: the day and time, a Chinese date on a zh-CN page, never 12/7', () => {
    expect(formatWhen(at(2026, 11, 6, 23, 55), 'zh-CN', { now: NOW })).toBe('12月6日 23:55')
    expect(formatWhen(at(2026, 0, 1, 0, 0), 'en', { now: NOW })).toBe('Jan 1, 00:00')
  })

  it('keeps today shortest: the time alone', () => {
    expect(formatWhen(at(2026, 11, 7, 0, 5), 'zh-CN', { now: NOW })).toBe('00:05')
    expect(formatWhen(at(2026, 11, 7, 23, 59), 'en', { now: NOW })).toBe('23:59')
  })

  it('takes an ISO time from the wire, and the clock for "now" by default', () => {
    const iso = new Date(at(2025, 11, 7, 17, 39)).toISOString()
    expect(formatWhen(iso, 'zh-CN', { now: NOW })).toBe('2025年12月7日 17:39')
    expect(formatWhen(Date.now(), 'zh-CN')).toMatch(/^\d{2}:\d{2}$/)
  })

  it('keeps the seconds where asked (the audit log)', () => {
    expect(formatWhen(at(2025, 11, 7, 11, 13, 56), 'zh-CN', { now: NOW, seconds: true })).toBe('2025年12月7日 11:13:56')
    expect(formatWhen(at(2026, 11, 5, 11, 13, 56), 'zh-CN', { now: NOW, seconds: true })).toBe('12月5日 11:13:56')
    expect(formatWhen(at(2026, 11, 7, 11, 13, 56), 'en', { now: NOW, seconds: true })).toBe('11:13:56')
  })

  it('reads five past midnight as 00:05 in English too, never 24:05', () => {
    // `hour12: false` gave "Dec 7, 2026, 24:05" and a held report "at about 24:05".
    const midnight = at(2025, 11, 7, 0, 5, 9)
    expect(formatWhen(midnight, 'en', { now: NOW })).toBe('Dec 7, 2025, 00:05')
    expect(formatWhen(at(2026, 11, 6, 0, 5), 'en', { now: NOW })).toBe('Dec 6, 00:05')
    expect(formatClock(midnight, 'en')).toBe('00:05')
    expect(formatClock(midnight, 'en', true)).toBe('00:05:09')
    expect(formatClock(midnight, 'zh-CN')).toBe('00:05')
  })
})
