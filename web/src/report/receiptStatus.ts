import type { Receipt } from '@/api/types'

/** The three steps a reporter sees, and how far a receipt has come along them. */
export const STEPS: Receipt['status'][] = ['received', 'in_progress', 'closed']

export function stepIndex(status: Receipt['status']): number {
  return STEPS.indexOf(status)
}
