// What a tier may do on a case, read from the contract and casework (vocabulary.json) so the
// desk offers no control casework refuses: who may confirm an alert (libs/contracts vocabulary.py,
// `Role.acknowledged_from`, which casework's `may_acknowledge` asks: a tier 4+ member of staff
// in scope whose tier is at or above the owner's own, or the counseling center's for an owner
// off the ladder, a college leader past the center), and who may override a student's consent
// (casework's referral.py, OVERRIDE_MIN_TIER: tier 5+).
import type { Role } from '@/api/types'
import { VOCABULARY, type Vocabulary } from './vocabulary'

const tier = (role: Role, vocabulary: Vocabulary): number => vocabulary.roles[role]?.tier ?? 0

/** The lowest tier that may confirm what `owner` owns (none, for a role the vocabulary does not
 *  know: the desk then offers no confirmation and casework decides). */
export function acknowledgedFrom(owner: Role, vocabulary: Vocabulary = VOCABULARY): number {
  return vocabulary.roles[owner]?.acknowledged_from ?? Infinity
}

/** Whether `role` (in scope) may confirm an alert `owner` owns. */
export function mayAcknowledge(role: Role, owner: Role, vocabulary: Vocabulary = VOCABULARY): boolean {
  const own = tier(role, vocabulary)
  return own >= vocabulary.casework.work_min_tier && own >= acknowledgedFrom(owner, vocabulary)
}

/** Whether `role` may override a student's consent (to a referral, to contacting the family). */
export function mayOverrideConsent(role: Role, vocabulary: Vocabulary = VOCABULARY): boolean {
  return tier(role, vocabulary) >= vocabulary.casework.override_min_tier
}
