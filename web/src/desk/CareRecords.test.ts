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

describe('due dates and review dates', () => {
  let sent: { actions: { due_at: string | null; description: string | null }[]; review_dates: string[] }[]
  beforeEach(() => {
    sent = []
    i18n.global.locale.value = 'zh-CN'
    let plan: Record<string, unknown> = { ...PLAN, actions: [{ ...PLAN.actions[0], due_at: '2020-01-02T15:59:00Z' }] }
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string, init: RequestInit = {}) => {
        if (url.endsWith('/plan') && init.method === 'PUT') {
          const body = JSON.parse(String(init.body))
          sent.push(body)
          plan = { ...plan, ...body, version: Number(plan.version) + 1 }
        }
        const body = url.endsWith('/plan') ? plan : []
        return new Response(JSON.stringify(body), { status: 200, headers: { 'Content-Type': 'application/json' } })
      }),
    )
    narrowAs(true)
  })

  it('says an action past its due date and not done is overdue', async () => {
    const wrapper = await mountRecords()
    const due = wrapper.get('[data-testid="plan-actions"] .care__due')
    expect(due.text()).toMatch(/^已过期限 2020年1月2日 \d\d:59$/)
    expect(due.classes()).toContain('care__due--over')
  })

  it('gives a new action the end of the day picked as its due date, and shows it', async () => {
    const wrapper = await mountRecords()
    await wrapper.get('input[aria-label="说明"]').setValue('每周谈心')
    await wrapper.get('[data-testid="action-due"]').setValue('2099-03-04')
    await wrapper.findAll('button').find((b) => b.text() === '添加措施')!.trigger('click')
    await flushPromises()
    expect(sent).toHaveLength(1)
    expect(sent[0]!.actions[1]).toMatchObject({ description: '每周谈心', due_at: new Date('2099-03-04T23:59:00').toISOString() })
    expect(wrapper.findAll('[data-testid="plan-actions"] .care__due')[1]!.text()).toBe('期限 2099年3月4日 23:59')
    expect((wrapper.get('[data-testid="action-due"]').element as HTMLInputElement).value).toBe('')
  })

  it('adds a review date to the plan, keeping its actions, and lists it', async () => {
    const wrapper = await mountRecords()
    expect(wrapper.find('[data-testid="review-dates"]').exists()).toBe(false)
    await wrapper.get('[data-testid="review-date"]').setValue('2099-05-06')
    await wrapper.findAll('button').find((b) => b.text() === '添加复查日期')!.trigger('click')
    await flushPromises()
    expect(sent[0]!.review_dates).toEqual([new Date('2099-05-06T23:59:00').toISOString()])
    expect(sent[0]!.actions).toHaveLength(1)
    expect(wrapper.get('[data-testid="review-dates"]').text()).toBe('2099年5月6日 23:59')
  })
})
