// The desk a counselor opens to answer one question: which alerts wait for me to confirm, and
// for how long. The rows are casework's list (its acknowledgement rule decides it); the page
// shows each one's grade, wait and next escalation, and confirms it with the acknowledgement
// call itself.
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createMemoryHistory, createRouter } from 'vue-router'
import { homeFor } from '@/api/session'
import type { AwaitingAlert } from '@/api/types'
import { i18n } from '@/i18n'
import AwaitingPage from './AwaitingPage.vue'
import { awaitingCount } from './awaitingCount'
import { NARROW } from './narrow'

const NOW = '2026-12-06T12:00:00Z'
const SEVERE: AwaitingAlert = {
  alert_id: 'a-severe',
  case_id: 'c-severe',
  student_ref: 'stu_1',
  severity: 'severe',
  owner_role: 'counseling_center',
  escalation_level: 1,
  raised_at: '2026-12-06T10:30:00Z',
  waiting_seconds: 5400,
  escalates_at: '2026-12-06T12:45:00Z',
  overdue: false,
}
const MILD: AwaitingAlert = {
  ...SEVERE,
  alert_id: 'a-mild',
  case_id: 'c-mild',
  student_ref: 'stu_2',
  severity: 'mild',
  owner_role: 'residence_counselor',
  escalation_level: 0,
  raised_at: '2026-12-06T08:00:00Z',
  escalates_at: '2026-12-06T11:00:00Z',
  overdue: true,
}
let waiting: AwaitingAlert[]
let calls: { url: string; method: string }[]

function answer(body: unknown): Response {
  return new Response(JSON.stringify(body), { status: 200, headers: { 'Content-Type': 'application/json' } })
}

async function mountPage() {
  const pinia = createPinia()
  setActivePinia(pinia)
  const router = createRouter({ history: createMemoryHistory(), routes: [{ path: '/:rest(.*)*', component: AwaitingPage }] })
  await router.push('/desk/awaiting')
  const wrapper = mount(AwaitingPage, { global: { plugins: [pinia, i18n, router] }, attachTo: document.body })
  await flushPromises()
  return { wrapper, router }
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'], now: Date.parse(NOW) })
  i18n.global.locale.value = 'zh-CN'
  waiting = [MILD, SEVERE]
  calls = []
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string, init?: RequestInit) => {
      calls.push({ url, method: init?.method ?? 'GET' })
      if (url.startsWith('/api/casework/v1/alerts/awaiting-me'))
        return answer({ items: waiting, total: waiting.length, limit: 100, offset: 0, now: NOW })
      const ack = url.match(/^\/api\/casework\/v1\/alerts\/([^/]+)\/acknowledgement$/)
      if (ack) {
        waiting = waiting.filter((a) => a.alert_id !== ack[1])
        return answer({ alert_id: ack[1] })
      }
      if (url.startsWith('/api/casework/v1/students/cards')) return answer({ items: [] })
      return answer({})
    }),
  )
})
afterEach(() => {
  vi.useRealTimers()
  vi.unstubAllGlobals()
  document.body.innerHTML = ''
})

describe('awaiting my confirmation', () => {
  it('lists the gravest first with its grade, rung, wait and next escalation, and counts them', async () => {
    const { wrapper } = await mountPage()
    const rows = wrapper.findAll('.el-table__body tr')
    expect(rows).toHaveLength(2)
    expect(rows[0]!.text()).toContain('重度')
    expect(rows[0]!.text()).toContain('心理健康教育与咨询中心')
    expect(rows[0]!.text()).toContain('已上报 1 级')
    expect(rows[0]!.text()).toContain('1 小时 30 分钟') // waited
    expect(rows[0]!.text()).toContain('45 分钟后上报')
    expect(rows[1]!.text()).toContain('轻度')
    expect(rows[1]!.text()).toContain('已超时 1 小时 00 分钟，正在上报')
    expect(wrapper.get('[data-testid="awaiting-count"]').text()).toContain('2')
    expect(awaitingCount.value).toBe(2)
  })

  it('confirms one alert with the acknowledgement call and shows what is left', async () => {
    const { wrapper } = await mountPage()
    await wrapper.findAll('[data-testid="awaiting-confirm"]')[0]!.trigger('click')
    await flushPromises()
    expect(calls).toContainEqual({ url: '/api/casework/v1/alerts/a-severe/acknowledgement', method: 'POST' })
    expect(calls.filter((c) => c.method === 'POST')).toHaveLength(1)
    expect(wrapper.findAll('.el-table__body tr')).toHaveLength(1)
    expect(awaitingCount.value).toBe(1)
  })

  it('speaks English when asked', async () => {
    i18n.global.locale.value = 'en'
    const { wrapper } = await mountPage()
    expect(wrapper.text()).toContain('Awaiting my confirmation')
    expect(wrapper.text()).toContain('escalates in 45 min')
    expect(wrapper.text()).toContain('Escalated 1 level') // as the case page says it, not "time(s)"
    expect(wrapper.text()).not.toContain('1 levels')
  })

  it('on a phone, shows each alert as a card whose buttons are in reach', async () => {
    // At 375 px the table put 确认接手 at x = 836: the counselor opening the desk from an SMS
    // saw no way to confirm. A phone gets cards, the same facts and the same call.
    vi.stubGlobal('matchMedia', (query: string) => ({
      matches: query === NARROW,
      addEventListener: () => undefined,
      removeEventListener: () => undefined,
    }))
    const { wrapper } = await mountPage()
    expect(wrapper.find('.el-table').exists()).toBe(false)
    const cards = wrapper.findAll('li.awaiting__card')
    expect(cards).toHaveLength(2)
    expect(cards[0]!.text()).toContain('重度')
    expect(cards[0]!.text()).toContain('已上报 1 级')
    expect(cards[0]!.text()).toContain('45 分钟后上报')
    await cards[0]!.get('[data-testid="awaiting-confirm"]').trigger('click')
    await flushPromises()
    expect(calls).toContainEqual({ url: '/api/casework/v1/alerts/a-severe/acknowledgement', method: 'POST' })
    expect(wrapper.findAll('li.awaiting__card')).toHaveLength(1)
  })

  it('says plainly when nothing waits', async () => {
    waiting = []
    const { wrapper } = await mountPage()
    expect(wrapper.text()).toContain('没有等你确认的预警。')
    expect(wrapper.find('[data-testid="awaiting-count"]').exists()).toBe(false)
  })

  it('is where staff who acknowledge land; college leaders keep their queue', () => {
    expect(homeFor('residence_counselor')).toBe('/desk/awaiting')
    expect(homeFor('counseling_center')).toBe('/desk/awaiting')
    expect(homeFor('college_leader')).toBe('/desk/queue')
  })
})
