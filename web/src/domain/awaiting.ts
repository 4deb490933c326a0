// What waits for the reader's confirmation: the gravest first, then the one waiting longest
// (casework orders its pages the same way); how long each has waited and how long until it
// escalates are counted live between refreshes, from the server's clock.
import type { AwaitingAlert } from '@/api/types'
import { formatMinutes, severityRank, type Say } from './queue'

export function compareAwaiting(a: AwaitingAlert, b: AwaitingAlert): number {
  return (
    severityRank(b.severity) - severityRank(a.severity) ||
    Date.parse(a.raised_at) - Date.parse(b.raised_at) ||
    a.alert_id.localeCompare(b.alert_id)
  )
}

export function orderAwaiting(alerts: readonly AwaitingAlert[]): AwaitingAlert[] {
  return [...alerts].sort(compareAwaiting)
}

/** The browser's clock minus the server's, so live counts agree with what casework said. */
export function clockSkew(serverNow: string, browserNow: number): number {
  return browserNow - Date.parse(serverNow)
}

/** How long the alert has waited at `now` (browser time, corrected by `skew`), in words. */
export function waited(alert: AwaitingAlert, now: number, skew: number, say: Say): string {
  const minutes = Math.max(0, Math.floor((now - skew - Date.parse(alert.raised_at)) / 60_000))
  return formatMinutes(minutes, say)
}
