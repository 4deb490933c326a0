// The report form without the page: what a draft holds, what it must satisfy, and the body
// intake takes (POST /v1/reports). Kept pure so it is tested without a browser.
import { DEFAULT_CHANNEL, type ReportChannel } from '@/domain/channels'
import type { SignalId } from '@/domain/signals'

export const MAX_NOTE_CHARS = 4000
export const CLOCK_SKEW_MS = 5 * 60_000

export interface ChosenStudent {
  student_no: string
  /** What the reporter saw when choosing (name and room); never sent, never stored. */
  label: string
  /** The reporter's own number: a student asking for help for themself (a self-referral). */
  self?: boolean
}

export interface ReportDraft {
  /** How the reporter learned of it; seen or heard by them unless they say otherwise. */
  channel: ReportChannel
  student: ChosenStudent | null
  signals: SignalId[]
  note: string
  /** `YYYY-MM-DDTHH:mm` in the phone's own time, as a datetime-local input gives it. */
  observedAt: string
  location: string
}

export interface ReportBody {
  campus_id: string
  student_no: string
  signals: SignalId[]
  observed_at: string
  note?: string
  location?: string
  /** Absent means `observed` (intake's default, and every report kept before the field). */
  channel?: ReportChannel
}

export type DraftField = 'student' | 'signals' | 'observedAt' | 'note'

export function emptyDraft(now: Date = new Date()): ReportDraft {
  return {
    channel: DEFAULT_CHANNEL,
    student: null,
    signals: [],
    note: '',
    observedAt: localInput(now),
    location: '',
  }
}

/** A Date as a datetime-local value in the phone's time zone. */
export function localInput(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0')
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}`
  )
}

/** The datetime-local value as ISO 8601 with the phone's offset (intake wants an offset). */
export function withOffset(local: string): string | null {
  const date = new Date(local)
  if (Number.isNaN(date.getTime())) return null
  const offset = -date.getTimezoneOffset()
  const sign = offset >= 0 ? '+' : '-'
  const abs = Math.abs(offset)
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${local.length === 16 ? local + ':00' : local}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`
}

export function toggleSignal(signals: readonly SignalId[], signal: SignalId): SignalId[] {
  return signals.includes(signal) ? signals.filter((s) => s !== signal) : [...signals, signal]
}

/** What is missing or wrong, field by field (empty when the draft can be sent). */
export function problems(draft: ReportDraft, now: Date = new Date()): DraftField[] {
  const found: DraftField[] = []
  if (!draft.student) found.push('student')
  if (draft.signals.length === 0) found.push('signals')
  const observed = new Date(draft.observedAt)
  if (Number.isNaN(observed.getTime()) || observed.getTime() > now.getTime() + CLOCK_SKEW_MS)
    found.push('observedAt')
  if (draft.note.length > MAX_NOTE_CHARS) found.push('note')
  return found
}

export function toBody(draft: ReportDraft, campusId: string): ReportBody {
  if (!draft.student) throw new Error('no student chosen')
  const observedAt = withOffset(draft.observedAt)
  if (!observedAt) throw new Error('no valid time')
  const body: ReportBody = {
    campus_id: campusId,
    student_no: draft.student.student_no,
    signals: [...draft.signals],
    observed_at: observedAt,
  }
  const note = draft.note.trim()
  if (note) body.note = note
  const location = draft.location.trim()
  if (location) body.location = location
  // Only when it is not the default: a body without it means the same to intake. About
  // themself, a student is asking for help, whatever the radio says (intake agrees).
  const channel: ReportChannel = draft.student.self ? 'self_referral' : draft.channel
  if (channel !== DEFAULT_CHANNEL) body.channel = channel
  return body
}

export const STUDENT_NO = /^[A-Za-z0-9_-]{1,32}$/

/** A student number as the roster keys it: NFKC (full-width digits from a phone's Chinese
 * keyboard are the ASCII ones) without stray spaces, as intake's pseudonyms compare it. */
export function studentNoKey(text: string): string {
  return text.normalize('NFKC').trim()
}
