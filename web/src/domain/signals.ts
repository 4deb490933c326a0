// The signal vocabulary as a reporter thinks of it: grouped by what one notices, danger first.
// Ids are the platform's (libs/contracts vocabulary.py, as intake's OpenAPI document types them:
// vue-tsc refuses an id intake does not take, and a contract signal left out of every group);
// the words are the web app's own, plainer than the clinical labels, in i18n under `signals.<id>`.
import type { components } from '@/api/openapi/intake'

/** A signal id intake takes. */
export type SignalId = components['schemas']['Signal']

export const SIGNAL_GROUPS = [
  {
    id: 'danger',
    signals: [
      'suicide_attempt',
      'suicide_plan',
      'self_harm_behavior',
      'self_harm_talk',
      'giving_away_possessions',
    ],
  },
  { id: 'mood', signals: ['hopelessness', 'persistent_low_mood', 'anxiety_panic'] },
  { id: 'body', signals: ['sleep_disturbance', 'appetite_change', 'substance_use'] },
  {
    id: 'people',
    signals: ['social_withdrawal', 'dorm_conflict', 'unusual_behavior', 'missing_contact'],
  },
  { id: 'pressure', signals: ['academic_decline', 'employment_pressure'] },
  {
    id: 'family',
    signals: ['family_conflict', 'bereavement_or_family_crisis', 'disaster_exposure'],
  },
] as const satisfies readonly { id: string; signals: readonly SignalId[] }[]

type None<T extends never> = T
/** Every signal of the contract is in a group: a new one fails vue-tsc here until the page
 *  places it (and words it in i18n). */
export type UngroupedSignals = None<Exclude<SignalId, (typeof SIGNAL_GROUPS)[number]['signals'][number]>>

export const ALL_SIGNALS: SignalId[] = SIGNAL_GROUPS.flatMap((g) => [...g.signals])

/** Signals that mean someone may be in danger right now: call before you type. */
export const CALL_FIRST: ReadonlySet<SignalId> = new Set<SignalId>([
  'suicide_attempt',
  'suicide_plan',
  'self_harm_behavior',
])

export function needsCallFirst(signals: readonly SignalId[]): boolean {
  return signals.some((s) => CALL_FIRST.has(s))
}
