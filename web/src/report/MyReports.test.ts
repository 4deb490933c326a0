// "My reports" as a reporter reads it after intake said "not now": the report still on the
// phone is listed apart from the sent ones, saying when it goes by itself, and it does go
// then, from this page, under the same Idempotency-Key.
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createMemoryHistory, createRouter } from 'vue-router'
import { useSession } from '@/api/session'
import type { Receipt } from '@/api/types'
import { i18n } from '@/i18n'
import { pendingReports } from '@/offline/store'
import MyReports from './MyReports.vue'

const OWNER = 'demo:2024020001'
const BODY = { campus_id: 'demo', student_no: '2024020031', signals: ['hopelessness' as const], observed_at: '2026-12-07T17:00:00+08:00' }
const RECEIPT: Receipt = {
  id: 'r1',
  kind: 'report',
  status: 'in_progress',
  status_label: '正在处理',
  received_at: '2026-12-06T09:00:00Z',
  updated_at: '2026-12-06T10:00:00Z',
}
const mounted: { unmount: () => void }[] = []
let receipts: Receipt[]
/** Intake's answer to a report for now: too many lately (429, Retry-After 300), no network, or taken. */
let intake: 'limited' | 'offline' | 'takes'
let posts: string[]

function answer(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } })
}

/** A report the reporter made at 17:39 by the phone's clock, that intake did not take. */
async function keptReport() {
  const item = await pendingReports.keep(OWNER, BODY)
  await pendingReports.send(item)
}

async function mountMine() {
  const pinia = createPinia()
  setActivePinia(pinia)
  useSession().apply({
    signed_in: true,
    user: { sub: '2024020001', role: 'dorm_leader', role_label: '寝室长', campus_id: 'demo', display_name: '', scope: [] },
    csrf_token: 'csrf-1',
    expires_at: null,
    methods: { local: true, oidc: false },
  })
  const router = createRouter({ history: createMemoryHistory(), routes: [{ path: '/:rest(.*)*', component: MyReports }] })
  await router.push('/report/receipts')
  const wrapper = mount(MyReports, { global: { plugins: [pinia, i18n, router] }, attachTo: document.body })
  mounted.push(wrapper)
  await flushPromises()
  await vi.waitFor(() => expect(wrapper.find('[data-testid="mine-device"]').exists()).toBe(true))
  return wrapper
}

beforeEach(() => {
  i18n.global.locale.value = 'zh-CN'
  // Timers and the clock only (IndexedDB schedules with setImmediate, which runs as it does).
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] })
  vi.setSystemTime(new Date(2026, 11, 7, 17, 39, 0)) // local time: the page shows the phone's clock
  receipts = [RECEIPT]
  intake = 'limited'
  posts = []
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string, init: RequestInit = {}) => {
      if (url === '/api/intake/v1/reports' && init.method === 'POST') {
        posts.push((init.headers as Record<string, string>)['Idempotency-Key']!)
        if (intake === 'offline') throw new TypeError('Failed to fetch')
        if (intake === 'limited')
          return answer({ status: 429, code: 'rate_limited', detail: '上报过于频繁' }, 429, { 'Retry-After': '300' })
        receipts = [{ ...RECEIPT, id: 'r2', status: 'received', status_label: '已收到' }, ...receipts]
        return answer({ report_id: 'r2' }, 202)
      }
      if (url.startsWith('/api/intake/v1/reports?')) return answer({ items: receipts })
      return answer({})
    }),
  )
})
afterEach(async () => {
  mounted.splice(0).forEach((wrapper) => wrapper.unmount()) // its timers and 'online' listener go too
  vi.useRealTimers()
  vi.unstubAllGlobals()
  for (const item of await pendingReports.list(OWNER)) await pendingReports.remove(item.key)
  document.body.innerHTML = ''
})

describe('my reports', () => {
  it('lists a report held on the phone apart from the sent ones, with when it goes, and sends it then', async () => {
    await keptReport()
    const wrapper = await mountMine()
    const device = wrapper.get('[data-testid="mine-device"]')
    expect(device.text()).toContain('在这部手机上，还没有发出')
    expect(device.text()).toContain('等待发送（约 17:44 自动发送）') // 17:39 + Retry-After 300 s
    expect(device.text()).not.toContain('正在处理')
    const sent = wrapper.get('[data-testid="mine-sent"]')
    expect(sent.text()).toContain('已发出')
    expect(sent.text()).toContain('正在处理')
    expect(sent.text()).not.toContain('等待发送')
    expect(posts).toHaveLength(1) // opening the page sends nothing before Retry-After

    intake = 'takes'
    await vi.advanceTimersByTimeAsync(299_000)
    expect(posts).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(2_000)
    await vi.waitFor(() => expect(wrapper.find('[data-testid="mine-device"]').exists()).toBe(false))
    expect(posts).toHaveLength(2)
    expect(posts[1]).toBe(posts[0]) // the same report, counted once
    await vi.waitFor(() => expect(wrapper.get('[data-testid="mine-sent"]').text()).toContain('已收到'))
    expect(await pendingReports.list(OWNER)).toEqual([])
  })

  it('says a report kept offline goes once online', async () => {
    intake = 'offline'
    await keptReport()
    const wrapper = await mountMine()
    expect(wrapper.get('[data-testid="mine-device"]').text()).toContain('等待发送（联网后自动发送）')
  })

  it('says the same in English', async () => {
    i18n.global.locale.value = 'en'
    await keptReport()
    const wrapper = await mountMine()
    const device = wrapper.get('[data-testid="mine-device"]')
    expect(device.text()).toContain('On this phone, not sent yet')
    expect(device.text()).toContain('Waiting to be sent (goes by itself at about 17:44)')
    expect(wrapper.get('[data-testid="mine-sent"]').text()).toContain('Sent')
  })
})
