// Sending this reporter's waiting reports by themselves, on any page that shows them (the
// report page, "my reports"): when the network comes back, every 30 s, once intake's
// Retry-After has passed, and when the page opens. A page that says "goes by itself at 10:32"
// must be one that sends it then.
import { computed, onMounted, onUnmounted, ref, watch } from 'vue'
import { usePending } from './store'
import { heldUntil } from './wait'

export function useResend(owner: () => string) {
  const pending = usePending()
  // The phone's clock, moved on whenever the waiting reports are looked at again.
  const now = ref(Date.now())
  const until = computed(() => heldUntil(pending.items, now.value))

  async function flushWaiting() {
    await pending.flush(owner())
    now.value = Date.now()
  }
  let resend: ReturnType<typeof setTimeout> | undefined
  watch(until, (at) => {
    clearTimeout(resend)
    if (at) resend = setTimeout(flushWaiting, at - Date.now() + 250)
  })
  let poll: ReturnType<typeof setInterval> | undefined
  onMounted(async () => {
    await pending.refresh(owner())
    window.addEventListener('online', flushWaiting)
    poll = setInterval(() => pending.items.length && flushWaiting(), 30_000)
    if (pending.items.length) await flushWaiting()
  })
  onUnmounted(() => {
    window.removeEventListener('online', flushWaiting)
    clearInterval(poll)
    clearTimeout(resend)
  })
  return { now, until, flushWaiting }
}
