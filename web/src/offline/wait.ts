// When a report held back by intake (Retry-After) goes out again, in words a reporter reads
// on a phone: "30 秒后" under a minute, "约 5 分钟后（10:32）" beyond, on the phone's clock.
import type { Composer } from 'vue-i18n'
import { formatClock } from '@/domain/when'
import type { PendingReport } from './pending'

/** The time the reporter's waiting reports may be sent again, if intake asked to wait. */
export function heldUntil(items: PendingReport[], now: number): number | null {
  const times = items.flatMap((i) => (!i.refused && i.held && i.held.until > now ? [i.held.until] : []))
  return times.length ? Math.max(...times) : null
}

export function waitWords(at: number, now: number, t: Composer['t'], locale: string): string {
  const seconds = Math.max(1, Math.ceil((at - now) / 1000))
  if (seconds < 60) return t('report.held.inSeconds', { n: seconds })
  return t('report.held.inMinutes', { n: Math.round(seconds / 60), time: formatClock(at, locale) })
}
