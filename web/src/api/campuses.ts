// The public campus directory: names and the numbers to call in an emergency.
import { ref } from 'vue'
import { api } from './http'
import type { CampusDirectory } from './types'

const directory = ref<CampusDirectory | null>(null)
let loading: Promise<void> | null = null

export function useCampuses() {
  loading ??= api
    .get<CampusDirectory>('/auth/campuses')
    .then(({ data }) => {
      directory.value = data
    })
    .catch(() => {
      loading = null
    })
  return directory
}
