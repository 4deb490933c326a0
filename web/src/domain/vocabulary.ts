// The vocabulary the desk decides with, as the contracts (and casework, for its tiers of working
// cases and overriding consent) export it: vocabulary.json, written by `make web-contracts`
// (scripts/contracts.py, libs/contracts' webvocab.py) and checked against the code by
// `make web-check`. The rules in tiers.ts, loop.ts and session.ts read it here, never a copy;
// the signal ids reach the report page as intake's OpenAPI document types them (signals.ts).
// Named imports: the bundle carries the parts the rules read, not the whole file.
import { campus_wide, case_states, casework, roles } from './vocabulary.json'
import type { CaseState, Role } from '@/api/types'

export interface Vocabulary {
  /** Each role's ladder tier (null off the ladder) and the lowest tier that may acknowledge
   *  what it owns (`Role.acknowledged_from`). */
  roles: Partial<Record<Role, { tier: number | null; acknowledged_from: number }>>
  /** The closed loop's states, in loop order. */
  case_states: CaseState[]
  /** Who sees the whole campus (`Principal.campus_wide`): these roles, and holders of a grant
   *  of one of these kinds. */
  campus_wide: { roles: Role[]; grants: string[] }
  /** Casework's tiers: the lowest that works cases (acknowledges, moves, writes), the lowest
   *  that may override a student's consent. */
  casework: { work_min_tier: number; override_min_tier: number }
}

export const VOCABULARY = { roles, case_states, campus_wide, casework } as Vocabulary
