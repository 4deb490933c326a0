// When something happened, in one way for the whole app, in the reader's time zone, 24-hour:
// today only the time ("17:39"), this year the day and time ("12月7日 17:39", "Dec 7, 17:39";
// "12/7" reads as either 7 December or 12 July), any other year with its year ("2025年12月7日
// 17:39", "Dec 7, 2025, 17:39"): a note from last December must not read as this one's.
// Seconds only where they matter (the audit log). Midnight is 00:xx in either language.

export interface WhenOptions {
  /** Show the seconds too (the audit log). */
  seconds?: boolean
  /** What "today" and "this year" are measured from (ms since the epoch); the clock by default. */
  now?: number
}

export function formatWhen(at: string | number, locale: string, { seconds = false, now = Date.now() }: WhenOptions = {}): string {
  const date = new Date(at)
  const today = new Date(now)
  const thisYear = date.getFullYear() === today.getFullYear()
  if (thisYear && date.getMonth() === today.getMonth() && date.getDate() === today.getDate()) {
    return formatClock(date.getTime(), locale, seconds)
  }
  return date.toLocaleString(locale, {
    ...(thisYear ? {} : { year: 'numeric' }),
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    ...(seconds ? { second: '2-digit' } : {}),
    hourCycle: 'h23',
  })
}

/** A time of day on the reader's clock, "00:05" (and "00:05:09" with seconds). `hourCycle:
 * 'h23'`, not `hour12: false`: in English the latter reads five past midnight as "24:05". */
export function formatClock(at: number, locale: string, seconds = false): string {
  return new Date(at).toLocaleTimeString(locale, {
    hour: '2-digit',
    minute: '2-digit',
    ...(seconds ? { second: '2-digit' } : {}),
    hourCycle: 'h23',
  })
}

/** The end of a day picked in a date field ("2026-12-09"), in the browser's time zone, as the
 *  API's ISO instant; null when nothing (or no day) is picked. */
export function endOfDay(day: string): string | null {
  const at = new Date(`${day}T23:59:00`)
  return day && !Number.isNaN(at.getTime()) ? at.toISOString() : null
}
