import type { Receipt } from '@/api/types'

/** The three steps a reporter sees, and how far a receipt has come along them. */
export const STEPS: Receipt['status'][] = ['received', 'in_progress', 'closed']

export function stepIndex(status: Receipt['status']): number {
  return STEPS.indexOf(status)
}

/** When a report was made, as the messages say it: "12月7日 11:13" ("12/7" reads as either
 *  7 December or 12 July), "Dec 7, 11:13" in English; 24-hour either way. */
export function formatTime(iso: string, locale: string): string {
  return new Date(iso).toLocaleString(locale, {
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23', // not hour12: false, which reads 00:05 as "24:05" in English
  })
}
