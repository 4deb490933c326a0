// When something happened, on the desk: "2026年12月7日 11:13" on a zh-CN page (not
// "2026/12/7 11:13:56"), "Dec 7, 2026, 11:13" in English, in the reader's time zone, 24-hour.
// Seconds only where they matter (the audit log). Midnight is 00:xx in either language.
export function formatWhen(iso: string, locale: string, seconds = false): string {
  return new Date(iso).toLocaleString(locale, {
    year: 'numeric',
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
