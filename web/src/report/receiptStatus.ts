import type { Receipt } from '@/api/types'

/** The three steps a reporter sees, and how far a receipt has come along them. */
export const STEPS: Receipt['status'][] = ['received', 'in_progress', 'closed']

export function stepIndex(status: Receipt['status']): number {
  return STEPS.indexOf(status)
}

export function formatTime(iso: string, locale: string): string {
  return new Date(iso).toLocaleString(locale, {
    month: 'numeric',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
  })
}
