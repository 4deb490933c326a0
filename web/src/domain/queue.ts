// A counselor's queue: the most serious first, then the nearest deadline, then the oldest.
// The service orders its pages the same way; the page re-sorts after merging a refresh and
// computes the time left live, between refreshes.
import type { CaseSummary, Severity } from '@/api/types'

const RANK: Record<Severity, number> = { none: 0, mild: 1, moderate: 2, severe: 3, critical: 4 }

export function severityRank(severity: Severity): number {
  return RANK[severity] ?? 0
}

function time(value: string | null): number {
  return value ? Date.parse(value) : Number.POSITIVE_INFINITY
}

export function compareCases(a: CaseSummary, b: CaseSummary): number {
  return (
    severityRank(b.severity) - severityRank(a.severity) ||
    time(a.deadline) - time(b.deadline) ||
    time(a.opened_at) - time(b.opened_at) ||
    a.case_id.localeCompare(b.case_id)
  )
}

export function orderQueue(cases: readonly CaseSummary[]): CaseSummary[] {
  return [...cases].sort(compareCases)
}

export interface TimeLeft {
  overdue: boolean
  minutes: number
  /** In the reader's words, e.g. "1 小时 05 分钟" or "1 h 05 min" */
  text: string
}

/** The i18n translate function: durations are words of the reader's language (`duration.*`),
 *  never "min" on a zh-CN page. */
export type Say = (key: string, values: Record<string, unknown>) => string

export function timeLeft(deadline: string | null, now: number, say: Say): TimeLeft | null {
  if (!deadline) return null
  const diff = Date.parse(deadline) - now
  const minutes = Math.floor(Math.abs(diff) / 60_000)
  return { overdue: diff < 0, minutes, text: formatMinutes(minutes, say) }
}

export function formatMinutes(minutes: number, say: Say): string {
  const days = Math.floor(minutes / 1440)
  const hours = Math.floor((minutes % 1440) / 60)
  const mins = minutes % 60
  if (days > 0) return say('duration.days', { d: days, h: hours })
  if (hours > 0) return say('duration.hours', { h: hours, m: String(mins).padStart(2, '0') })
  // "0 分钟" reads as nothing at all: under a minute is said so.
  return mins > 0 ? say('duration.minutes', { m: mins }) : say('duration.underMinute', {})
}

/** The i18n keys of a deadline's phrase: time left, overdue by, and the two under a minute
 *  either side of it, said whole ("不到1分钟", "刚刚超时"), never "剩 0 分钟" / "已超时 0 分钟". */
export interface DeadlineWords {
  left: string
  overdue: string
  underMinute: string
  justOverdue: string
}

export function deadlinePhrase(left: TimeLeft, say: Say, words: DeadlineWords): string {
  if (left.minutes === 0) return say(left.overdue ? words.justOverdue : words.underMinute, {})
  return say(left.overdue ? words.overdue : words.left, { t: left.text })
}

/** Urgency for colouring a row: overdue or under an hour is urgent, under a day is soon. */
export function urgency(left: TimeLeft | null): 'overdue' | 'urgent' | 'soon' | 'calm' {
  if (!left) return 'calm'
  if (left.overdue) return 'overdue'
  if (left.minutes < 60) return 'urgent'
  if (left.minutes < 24 * 60) return 'soon'
  return 'calm'
}
