// The closed loop's order (发现 → 监控 → 干预 → 转介 → 善后 → 回访 → 结案), to tell a step
// forward from a relapse or a reopening, which must say why.
// The order is the contract's (`CaseState`, exported in vocabulary.json).
import type { CaseState } from '@/api/types'
import { VOCABULARY } from './vocabulary'

export const LOOP: readonly CaseState[] = VOCABULARY.case_states

export type StepKind = 'forward' | 'relapse' | 'reopen'

export function stepKind(from: CaseState, to: CaseState, loop: readonly CaseState[] = LOOP): StepKind {
  if (from === 'closed') return 'reopen'
  return loop.indexOf(to) < loop.indexOf(from) ? 'relapse' : 'forward'
}
