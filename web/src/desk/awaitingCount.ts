// How many alerts wait for the signed-in person's confirmation: the desk's badge. The page
// that lists them sets it on every load; the desk refreshes it on its own every 30 s from
// the count route, which names no student (so the poll reads, and audits, no one's file).
import { ref } from 'vue'
import { api, ApiError } from '@/api/http'
import type { AwaitingCount } from '@/api/types'

export const awaitingCount = ref<number | null>(null)
// Asked again no sooner than a 429's or a 503's Retry-After.
let restUntil = 0

export async function refreshAwaitingCount(): Promise<void> {
  if (Date.now() < restUntil) return
  try {
    const { data } = await api.get<AwaitingCount>('/api/casework/v1/alerts/awaiting-me/count')
    awaitingCount.value = data.total
  } catch (error) {
    // The badge is a pointer, not the list: the page itself reports a failure.
    if (error instanceof ApiError && error.retryAfter) restUntil = Date.now() + error.retryAfter * 1000
  }
}
