// The public campus directory: names and the numbers to call in an emergency.
import { ref } from 'vue'
import { api } from './http'
import type { CampusDirectory, EmergencyNumber } from './types'

/** The numbers that hold everywhere in China, as the gateway's directory gives them: shown when
 *  the directory could not be fetched (a reporter whose network dropped after the page loaded
 *  saw "全国通用电话" over an empty list, exactly when a report could not go). */
export const NATIONAL_NUMBERS: readonly EmergencyNumber[] = [
  { kind: 'police', label: '报警', label_en: 'Police', phone: '110' },
  { kind: 'ambulance', label: '急救', label_en: 'Ambulance', phone: '120' },
  { kind: 'hotline', label: '全国心理援助热线', label_en: 'National psychological assistance hotline', phone: '12356' },
]

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
