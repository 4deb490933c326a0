import { describe, expect, it } from 'vitest'
import { formatTime } from './receiptStatus'

describe('when a report was made', () => {
  it('reads as a Chinese date on a zh-CN page, never 12/7', () => {
    // A dorm-room leader's list of reports read "12/7 11:13".
    expect(formatTime('2026-12-07T03:13:00Z', 'zh-CN')).toMatch(/^12月[78]日 \d{2}:13$/)
  })

  it('names the month in English, on a 24-hour clock', () => {
    expect(formatTime('2026-12-07T15:13:00Z', 'en')).toMatch(/^Dec [78], \d{2}:13$/)
  })

  it('reads just after midnight as 00:05, not 24:05', () => {
    const midnight = new Date(2026, 11, 7, 0, 5).toISOString()
    expect(formatTime(midnight, 'en')).toBe('Dec 7, 00:05')
    expect(formatTime(midnight, 'zh-CN')).toBe('12月7日 00:05')
  })
})
