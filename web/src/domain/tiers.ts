// What a tier may do on a case, mirrored from the contract and casework so the desk offers no
// control casework refuses: who may confirm an alert (libs/contracts vocabulary.py,
// `Role.acknowledged_from`, which casework's `may_acknowledge` asks: a tier 4+ member of staff
// in scope whose tier is at or above the owner's own, or the counseling center's for an owner
// off the ladder, a college leader past the center), and who may override a student's consent
// (casework's referral.py, OVERRIDE_MIN_TIER: tier 5+).
import type { Role } from '@/api/types'

const TIER: Partial<Record<Role, number>> = {
  dorm_leader: 1,
  floor_leader: 2,
  class_wellbeing_officer: 3,
  residence_counselor: 4,
  community_psych_teacher: 5,
  counseling_center: 6,
}
const COUNSELING_CENTER = 6
const RESIDENCE_COUNSELOR = 4
const OVERRIDE_MIN_TIER = 5

/** The lowest tier that may confirm what `owner` owns. */
export function acknowledgedFrom(owner: Role): number {
  return TIER[owner] ?? COUNSELING_CENTER
}

/** Whether `role` (in scope) may confirm an alert `owner` owns. */
export function mayAcknowledge(role: Role, owner: Role): boolean {
  const tier = TIER[role] ?? 0
  return tier >= RESIDENCE_COUNSELOR && tier >= acknowledgedFrom(owner)
}

/** Whether `role` may override a student's consent (to a referral, to contacting the family). */
export function mayOverrideConsent(role: Role): boolean {
  return (TIER[role] ?? 0) >= OVERRIDE_MIN_TIER
}
