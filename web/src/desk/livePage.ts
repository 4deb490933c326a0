// A desk page that stays current while it is open: it loads at once, again every 15 s and
// whenever its tab is shown again, and keeps a clock ticking each second for the "time left"
// and "waited" it shows. The page owns what it loads; `refresh` is how the page loads it
// itself (a click, another view, after an action), so every load goes through the same rules:
//
// - The service says "not now" (429, 5xx, no network): no error message, the polling rests
//   for the Retry-After it gave (or backs off, 15 s, 30 s, ... 5 min, without one), the page
//   says so calmly (`resting`) over what it last loaded, and picks up again by itself. Only
//   what a person asks for is tried meanwhile, never a timer or a tab coming back.
// - Any other failure is said once (a toast), not again at every poll until a load succeeds.
import { onMounted, onUnmounted, ref, type Ref } from 'vue'
import { ApiError, NetworkError } from '@/api/http'
import { failed } from './feedback'

export type RestReason = 'limited' | 'unavailable' | 'network'

export interface Resting {
  reason: RestReason
  /** When polling picks up again (epoch ms). */
  until: number
}

export interface LivePage {
  /** The clock the page's "time left" reads, ticking each second. */
  now: Ref<number>
  /** Load now, as a person asked: tried even while the polling rests. */
  refresh: () => Promise<void>
  resting: Ref<Resting | null>
  /** When the page last loaded (epoch ms): what it shows dates from then. */
  loadedAt: Ref<number | null>
}

const LONGEST_REST_MS = 5 * 60_000

/** Why a failure means "not now", or null when it is a real error to show. */
export function restReason(error: unknown): RestReason | null {
  if (error instanceof NetworkError) return 'network'
  if (error instanceof ApiError && error.status === 429) return 'limited'
  if (error instanceof ApiError && error.transient) return 'unavailable'
  return null
}

export function useLivePage(load: () => Promise<unknown>, every = 15_000): LivePage {
  const now = ref(Date.now())
  const resting = ref<Resting | null>(null)
  const loadedAt = ref<number | null>(null)
  let misses = 0 // failures in a row
  let said = false // the current run of failures was shown once
  let next: ReturnType<typeof setTimeout> | undefined
  let tick: ReturnType<typeof setInterval> | undefined
  let live = false

  function schedule(ms: number) {
    clearTimeout(next)
    if (live) next = setTimeout(poll, ms)
  }

  /** A load no one asked for: none while the service asked to wait. */
  function poll() {
    if (resting.value && Date.now() < resting.value.until) schedule(resting.value.until - Date.now() + 50)
    else void refresh()
  }

  async function refresh(): Promise<void> {
    try {
      await load()
      misses = 0
      said = false
      resting.value = null
      loadedAt.value = Date.now()
      schedule(every)
    } catch (error) {
      misses += 1
      const reason = restReason(error)
      if (!reason) {
        if (!said) failed(error)
        said = true
        schedule(every)
        return
      }
      const backoff = Math.min(every * 2 ** (misses - 1), LONGEST_REST_MS)
      const given = error instanceof ApiError && error.retryAfter !== null ? error.retryAfter * 1000 : null
      const wait = Math.max(given ?? backoff, 1_000)
      resting.value = { reason, until: Date.now() + wait }
      schedule(Math.max(wait, every))
    }
  }

  const onVisible = () => document.visibilityState === 'visible' && poll()
  onMounted(() => {
    live = true
    void refresh()
    tick = setInterval(() => (now.value = Date.now()), 1_000)
    document.addEventListener('visibilitychange', onVisible)
  })
  onUnmounted(() => {
    live = false
    clearTimeout(next)
    clearInterval(tick)
    document.removeEventListener('visibilitychange', onVisible)
  })
  return { now, refresh, resting, loadedAt }
}
