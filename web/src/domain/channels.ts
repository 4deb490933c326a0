// How the reporter came to know what they report: the platform's ReportChannel
// (libs/contracts vocabulary.py), and which roles can have learned of it each way, mirrored
// from `ReportChannel.reportable_by` (intake refuses the others). The words are in i18n under
// `channels.<id>`, the contract's own labels.
import type { Role } from '@/api/types'

export const REPORT_CHANNELS = ['observed', 'self_referral', 'family_call', 'counseling_session'] as const

export type ReportChannel = (typeof REPORT_CHANNELS)[number]

/** Every report before the field existed, and the page's default: seen or heard by the reporter. */
export const DEFAULT_CHANNEL: ReportChannel = 'observed'

const STAFF_REPORTERS: readonly Role[] = [
  'residence_counselor',
  'community_psych_teacher',
  'counseling_center',
  'college_leader',
]

// Anyone may see signs or be asked for help by the student; a family calls staff, not a
// fellow student; only those who hold counseling sessions learn of it in one.
const REPORTERS: Partial<Record<ReportChannel, readonly Role[]>> = {
  family_call: STAFF_REPORTERS,
  counseling_session: ['community_psych_teacher', 'counseling_center'],
}

export function reportableBy(channel: ReportChannel, role: Role): boolean {
  return REPORTERS[channel]?.includes(role) ?? true
}

/** The channels a reporter of this role is offered, in the contract's order. */
export function channelsFor(role: Role): ReportChannel[] {
  return REPORT_CHANNELS.filter((channel) => reportableBy(channel, role))
}
