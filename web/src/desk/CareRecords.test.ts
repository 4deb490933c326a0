// The plan on a phone: each action a row of its own (kind, status, what is to be done), not a
// three-column table whose English "Description" header broke mid-word at 375 px.
import { flushPromises, mount } from '@vue/test-utils'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { i18n } from '@/i18n'
import CareRecords from './CareRecords.vue'
import { NARROW } from './narrow'

const PLAN = {
  version: 2,
  actions: [{ action_id: 'p1', kind: 'counseling', owner_ref: null, due_at: null, status: 'in_progress', description: 'Weekly sessions at the centre' }],
  review_dates: [],
}

function narrowAs(narrow: boolean) {
  vi.stubGlobal('matchMedia', (query: string) => ({
    matches: narrow && query === NARROW,
    addEventListener: () => undefined,
    removeEventListener: () => undefined,
  }))
}

async function mountRecords() {
  const wrapper = mount(CareRecords, { props: { caseId: 'c1' }, global: { plugins: [i18n] } })
  await flushPromises()
  return wrapper
}

beforeEach(() => {
  i18n.global.locale.value = 'en'
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string) => {
      const body = url.endsWith('/plan') ? PLAN : []
      return new Response(JSON.stringify(body), { status: 200, headers: { 'Content-Type': 'application/json' } })
    }),
  )
})
afterEach(() => {
  vi.unstubAllGlobals()
  i18n.global.locale.value = 'zh-CN'
})

describe('the plan', () => {
  it('on a phone, lists each action with its kind, words and status, and no column headers', async () => {
    narrowAs(true)
    const wrapper = await mountRecords()
    expect(wrapper.find('.el-table').exists()).toBe(false)
    const rows = wrapper.get('[data-testid="plan-actions"]').findAll('li')
    expect(rows).toHaveLength(1)
    expect(rows[0]!.get('strong').text()).toBe('Counseling')
    expect(rows[0]!.get('.care__description').text()).toBe('Weekly sessions at the centre')
    expect(rows[0]!.get('input').attributes('aria-label')).toBe('Status')
  })

  it('at a desk, keeps the table with its Description column', async () => {
    narrowAs(false)
    const wrapper = await mountRecords()
    expect(wrapper.find('[data-testid="plan-actions"]').exists()).toBe(false)
    expect(wrapper.find('.el-table').exists()).toBe(true)
  })
})
