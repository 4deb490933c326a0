// Whether the desk is read on a phone: a table of six columns there puts its buttons past the
// right edge, so the lists show each row as a card instead (same facts, same buttons).
import { onBeforeUnmount, ref, type Ref } from 'vue'

export const NARROW = '(max-width: 700px)'

export function useNarrow(): Ref<boolean> {
  const query = typeof window.matchMedia === 'function' ? window.matchMedia(NARROW) : null
  const narrow = ref(query?.matches ?? false)
  const follow = (event: MediaQueryListEvent) => {
    narrow.value = event.matches
  }
  query?.addEventListener('change', follow)
  onBeforeUnmount(() => query?.removeEventListener('change', follow))
  return narrow
}
