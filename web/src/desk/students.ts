// Names behind the pseudonyms of cases, looked up for students in the reader's scope (each
// look-up is audited by casework) and kept in memory for this page only.
import { reactive } from 'vue'
import { api } from '@/api/http'
import type { StudentCard } from '@/api/types'

const cards = reactive(new Map<string, StudentCard>())

export async function loadCards(refs: string[]): Promise<void> {
  const missing = [...new Set(refs)].filter((ref) => !cards.has(ref))
  if (!missing.length) return
  const query = missing.map((ref) => `ref=${encodeURIComponent(ref)}`).join('&')
  try {
    const { data } = await api.get<{ items: StudentCard[] }>(`/api/casework/v1/students/cards?${query}`)
    for (const card of data.items) cards.set(card.student_ref, card)
  } catch {
    // Names are a convenience: the queue works on pseudonyms when they cannot be read.
  }
}

export function studentLabel(ref: string): { name: string; place: string } | null {
  const card = cards.get(ref)
  if (!card) return null
  const place = [card.building && card.room ? `${card.building}${card.room}` : card.building, card.class_name]
    .filter(Boolean)
    .join(' · ')
  return { name: card.name, place }
}

export function forgetCards(): void {
  cards.clear()
}
