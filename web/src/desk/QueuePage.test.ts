// The queue as a counselor finds it on a night shift: with nothing of their own, it says how
// many cases their scope holds and takes them there in one click. Before, it said only "the
// queue is empty" while alerts of their tier waited on cases owned by someone else.
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createMemoryHistory, createRouter } from 'vue-router'
import { useSession } from '@/api/session'
import type { Role } from '@/api/types'
import { i18n } from '@/i18n'
import { failed } from './feedback'
import QueuePage from './QueuePage.vue'

vi.mock('./feedback', async (actual) => ({ ...(await actual<typeof import('./feedback')>()), failed: vi.fn() }))

const CASE = {
  case_id: 'c1',
  student_ref: 'stu_1',
  state: 'open',
  severity: 'moderate',
  owner_ref: 'per_center',
  owner_role: 'counseling_center',
  opened_at: '2026-12-06T17:00:00Z',
  updated_at: '2026-12-06T17:00:00Z',
  deadline: '2026-12-06T18:00:00Z',
  unacknowledged_alerts: 1,
  missed_follow_ups: 0,
  version: 1,
}
let urls: string[]
const mounted: { unmount: () => void }[] = []
let scope: (typeof CASE)[]
/** Casework's answer to the queue for now: the list, or a problem with its status. */
let casework: 'answers' | { status: number; code: string; retryAfter?: string }

function answer(body: unknown): Response {
  return new Response(JSON.stringify(body), { status: 200, headers: { 'Content-Type': 'application/json' } })
}

function problem({ status, code, retryAfter }: { status: number; code: string; retryAfter?: string }): Response {
  const headers: Record<string, string> = { 'Content-Type': 'application/problem+json' }
  if (retryAfter) headers['Retry-After'] = retryAfter
  return new Response(JSON.stringify({ status, code, detail: `请求过于频繁，请在 ${retryAfter} 秒后重试` }), { status, headers })
}

async function mountQueue(role: Role = 'community_psych_teacher') {
  const pinia = createPinia()
  setActivePinia(pinia)
  useSession().apply({
    signed_in: true,
    user: { sub: 'T2001', role, role_label: '', campus_id: 'demo', display_name: '', scope: [] },
    csrf_token: 'csrf-1',
    expires_at: null,
    methods: { local: true, oidc: false },
  })
  const router = createRouter({ history: createMemoryHistory(), routes: [{ path: '/:rest(.*)*', component: QueuePage }] })
  await router.push('/desk/queue')
  const wrapper = mount(QueuePage, { global: { plugins: [pinia, i18n, router] }, attachTo: document.body })
  mounted.push(wrapper)
  await flushPromises()
  return wrapper
}

beforeEach(() => {
  i18n.global.locale.value = 'zh-CN'
  urls = []
  scope = [CASE, { ...CASE, case_id: 'c2', student_ref: 'stu_2' }]
  casework = 'answers'
  vi.mocked(failed).mockClear()
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string) => {
      urls.push(url)
      if (casework !== 'answers') return problem(casework)
      if (url.startsWith('/api/casework/v1/cases?') && url.includes('mine=true')) return answer({ items: [], total: 0 })
      if (url.startsWith('/api/casework/v1/cases?')) return answer({ items: scope, total: scope.length })
      if (url.startsWith('/api/casework/v1/cases/count')) return answer({ total: scope.length })
      if (url.startsWith('/api/casework/v1/students/cards')) return answer({ items: [] })
      // c1's alert waits for me; c2's climbed past me (a higher tier's to confirm).
      if (url.startsWith('/api/casework/v1/alerts/awaiting-me?')) return answer({ items: [{ alert_id: 'a1', case_id: 'c1' }], total: 1 })
      return answer({})
    }),
  )
})
afterEach(() => {
  mounted.splice(0).forEach((wrapper) => wrapper.unmount()) // its polling and listeners go too
  vi.useRealTimers()
  vi.unstubAllGlobals()
  document.body.innerHTML = ''
})

describe('an empty queue of mine', () => {
  it('says how many cases the scope holds and shows them in one click', async () => {
    const wrapper = await mountQueue()
    expect(wrapper.text()).toContain('你的负责范围内有 2 个个案，其中可能有等你确认的预警')
    // Counted, not listed: listing the scope for its total would read (and audit) a student.
    expect(urls).toContain('/api/casework/v1/cases/count')
    expect(urls.filter((u) => u.startsWith('/api/casework/v1/cases?'))).toEqual([
      '/api/casework/v1/cases?limit=100&mine=true',
    ])
    await wrapper.get('[data-testid="queue-see-scope"]').trigger('click')
    await flushPromises()
    expect(urls.at(-2) ?? '').not.toContain('mine=true')
    expect(wrapper.text()).toContain('共 2 个')
    expect(wrapper.findAll('button').filter((b) => b.text() === '确认预警').length).toBeGreaterThan(0)
  })

  it('offers to confirm only the alerts waiting for me, and confirms exactly those', async () => {
    const wrapper = await mountQueue()
    await wrapper.get('[data-testid="queue-see-scope"]').trigger('click')
    await flushPromises()
    const confirm = wrapper.findAll('button').filter((b) => b.text() === '确认预警')
    expect(confirm).toHaveLength(1) // c1's; c2's alert climbed past me
    urls.length = 0
    await confirm[0]!.trigger('click')
    await flushPromises()
    expect(urls.filter((u) => u.includes('/acknowledgement'))).toEqual(['/api/casework/v1/alerts/a1/acknowledgement'])
  })

  it('offers a college leader no acknowledgement casework would refuse them', async () => {
    const wrapper = await mountQueue('college_leader')
    expect(wrapper.text()).toContain('你的负责范围内有 2 个个案，可以查看其进展')
    await wrapper.get('[data-testid="queue-see-scope"]').trigger('click')
    await flushPromises()
    expect(wrapper.text()).toContain('共 2 个')
    expect(wrapper.findAll('button').filter((b) => b.text() === '确认预警')).toHaveLength(0)
  })

  it('asks for no message it lacks (a reader would see "state.undefined")', async () => {
    // Element Plus renders each column's slot once with an empty row to find nested columns.
    const warn = vi.spyOn(console, 'warn')
    const wrapper = await mountQueue()
    await wrapper.get('[data-testid="queue-see-scope"]').trigger('click')
    await flushPromises()
    expect(wrapper.get('[data-testid="queue"]').text()).toContain('发现') // each row's state, named
    expect(warn.mock.calls.flat().filter((m) => String(m).includes('Not found'))).toEqual([])
    warn.mockRestore()
  })

  it('is simply empty when the scope is empty too', async () => {
    scope = []
    const wrapper = await mountQueue()
    expect(wrapper.text()).toContain('队列是空的')
    expect(wrapper.find('[data-testid="queue-see-scope"]').exists()).toBe(false)
  })
})

describe('the live queue when casework says "not now"', () => {
  const polls = () => urls.filter((u) => u.startsWith('/api/casework/v1/cases?')).length
  beforeEach(() => {
    // Timers and the clock only: promises and Vue's scheduler run as they do.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] })
  })

  it('rests for the Retry-After of a 429 with a calm notice and no error, then picks up by itself', async () => {
    const wrapper = await mountQueue()
    expect(polls()).toBe(1)
    casework = { status: 429, code: 'rate_limited', retryAfter: '60' }
    await vi.advanceTimersByTimeAsync(15_000)
    expect(polls()).toBe(2)
    const notice = wrapper.get('[data-testid="live-notice"]')
    expect(notice.attributes('role')).toBe('status')
    expect(notice.text()).toContain('请求过于频繁，自动刷新已暂停')
    expect(notice.text()).toMatch(/下面显示的是 \d\d:\d\d:\d\d 的内容/)
    expect(wrapper.text()).toContain('你的负责范围内有 2 个个案') // what it last loaded stays
    expect(wrapper.text()).not.toContain('每 15 秒自动刷新') // not while it rests

    // Not a request more until Retry-After, though the tab comes back meanwhile.
    await vi.advanceTimersByTimeAsync(30_000)
    document.dispatchEvent(new Event('visibilitychange'))
    await vi.advanceTimersByTimeAsync(29_000)
    expect(polls()).toBe(2)
    expect(failed).not.toHaveBeenCalled()

    casework = 'answers'
    await vi.advanceTimersByTimeAsync(1_100)
    expect(polls()).toBe(3)
    expect(wrapper.find('[data-testid="live-notice"]').exists()).toBe(false)
    await vi.advanceTimersByTimeAsync(15_000)
    expect(polls()).toBe(4) // and back to every 15 s
  })

  it('backs off after a 503 without Retry-After, and says English in English', async () => {
    i18n.global.locale.value = 'en'
    const wrapper = await mountQueue()
    casework = { status: 503, code: 'service_unavailable' }
    await vi.advanceTimersByTimeAsync(15_000) // fails: rests 15 s
    await vi.advanceTimersByTimeAsync(15_100) // fails again: rests 30 s
    expect(polls()).toBe(3)
    expect(wrapper.get('[data-testid="live-notice"]').text()).toContain('The service is unavailable for now; retrying in 30 s')
    await vi.advanceTimersByTimeAsync(29_000)
    expect(polls()).toBe(3)
    expect(failed).not.toHaveBeenCalled()
  })

  it('says any other failure once, not at every poll', async () => {
    await mountQueue()
    casework = { status: 403, code: 'forbidden' }
    await vi.advanceTimersByTimeAsync(45_000)
    expect(polls()).toBe(4)
    expect(failed).toHaveBeenCalledTimes(1)
  })
})
