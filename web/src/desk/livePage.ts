// A desk page that stays current while it is open: it loads at once, again every 15 s and
// whenever its tab is shown again, and keeps a clock ticking each second for the "time left"
// and "waited" it shows. The clock is returned; the page owns what it loads.
import { onMounted, onUnmounted, ref, type Ref } from 'vue'

export function useLivePage(load: () => unknown, every = 15_000): Ref<number> {
  const now = ref(Date.now())
  let refresh: ReturnType<typeof setInterval> | undefined
  let tick: ReturnType<typeof setInterval> | undefined
  const onVisible = () => document.visibilityState === 'visible' && load()
  onMounted(() => {
    void load()
    refresh = setInterval(load, every)
    tick = setInterval(() => (now.value = Date.now()), 1_000)
    document.addEventListener('visibilitychange', onVisible)
  })
  onUnmounted(() => {
    clearInterval(refresh)
    clearInterval(tick)
    document.removeEventListener('visibilitychange', onVisible)
  })
  return now
}
