// The closed loop's order (发现 → 监控 → 干预 → 转介 → 善后 → 回访 → 结案), to tell a step
// forward from a relapse or a reopening, which must say why.
import type { CaseState } from '@/api/types'

export const LOOP: CaseState[] = ['open', 'monitoring', 'intervention', 'referred', 'aftercare', 'follow_up', 'closed']

export type StepKind = 'forward' | 'relapse' | 'reopen'

export function stepKind(from: CaseState, to: CaseState): StepKind {
  if (from === 'closed') return 'reopen'
  return LOOP.indexOf(to) < LOOP.indexOf(from) ? 'relapse' : 'forward'
}
