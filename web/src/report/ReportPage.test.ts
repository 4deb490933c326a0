// The report page as a reporter uses it, with fetch standing in for the gateway: errors by
// field, a report sent with an Idempotency-Key, and a report kept on the device when the
// network is down.
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createMemoryHistory, createRouter } from 'vue-router'
import { useSession } from '@/api/session'
import { i18n } from '@/i18n'
import { pendingReports } from '@/offline/store'
import ReportPage from './ReportPage.vue'

type Call = { url: string; init: RequestInit }
let calls: Call[]
let network: 'up' | 'down'

function answer(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })
}

async function mountPage() {
  const pinia = createPinia()
  setActivePinia(pinia)
  const session = useSession()
  session.apply({
    signed_in: true,
    user: { sub: '2024020001', role: 'dorm_leader', role_label: '寝室长', campus_id: 'demo', display_name: '', scope: [] },
    csrf_token: 'csrf-1',
    expires_at: null,
    methods: { local: true, oidc: false },
  })
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/report', component: ReportPage },
      { path: '/report/receipts/:id', component: { template: '<p>receipt</p>' } },
      { path: '/:rest(.*)*', component: { template: '<p>other</p>' } },
    ],
  })
  await router.push('/report')
  const wrapper = mount(ReportPage, { global: { plugins: [pinia, i18n, router] }, attachTo: document.body })
  await flushPromises()
  return { wrapper, router }
}

beforeEach(() => {
  i18n.global.locale.value = 'zh-CN'
  calls = []
  network = 'up'
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string, init: RequestInit = {}) => {
      calls.push({ url, init })
      if (url.startsWith('/api/casework/v1/students/lookup'))
        return answer({ items: [{ student_ref: 'r31', student_no: '2024020031', name: '测试学生31', college: null, class_name: '软件2401', building: '8号楼', room: '202' }] })
      if (url === '/auth/campuses') return answer({ everywhere: [], campuses: [] })
      if (network === 'down') throw new TypeError('Failed to fetch')
      if (url === '/api/intake/v1/reports') return answer({ report_id: 'c0ffee00-0000-4000-8000-000000000001' }, 202)
      return answer({})
    }),
  )
})

afterEach(async () => {
  vi.unstubAllGlobals()
  for (const item of await pendingReports.list('demo:2024020001')) await pendingReports.remove(item.key)
  document.body.innerHTML = ''
})

async function fill(wrapper: Awaited<ReturnType<typeof mountPage>>['wrapper']) {
  await vi.waitFor(() => expect(wrapper.find('.picker__option').exists()).toBe(true))
  await wrapper.find('.picker__option').trigger('click')
  await wrapper.find('[data-signal="hopelessness"]').trigger('click')
  await wrapper.find('#field-note').setValue('最近总说活着没意思')
}

describe('the report page', () => {
  it('names each missing field, and forgets the error once it is put right', async () => {
    const { wrapper } = await mountPage()
    await wrapper.find('form').trigger('submit')
    expect(wrapper.text()).toContain('请选择一位同学')
    expect(wrapper.text()).toContain('请至少选择一项')
    await wrapper.find('[data-signal="sleep_disturbance"]').trigger('click')
    expect(wrapper.text()).not.toContain('请至少选择一项')
    expect(calls.some((c) => c.url === '/api/intake/v1/reports')).toBe(false)
  })

  it('sends the report with an Idempotency-Key and the CSRF token, then shows the receipt', async () => {
    const { wrapper, router } = await mountPage()
    await fill(wrapper)
    await wrapper.find('form').trigger('submit')
    await vi.waitFor(() => expect(router.currentRoute.value.path).toBe('/report/receipts/c0ffee00-0000-4000-8000-000000000001'))
    const sent = calls.find((c) => c.url === '/api/intake/v1/reports')!
    const headers = sent.init.headers as Record<string, string>
    expect(headers['Idempotency-Key']).toMatch(/^[0-9a-f-]{36}$/)
    expect(headers['X-CSRF-Token']).toBe('csrf-1')
    const body = JSON.parse(String(sent.init.body))
    expect(body).toMatchObject({ campus_id: 'demo', student_no: '2024020031', signals: ['hopelessness'], note: '最近总说活着没意思' })
    expect(await pendingReports.list('demo:2024020001')).toEqual([])
  })

  it('keeps the report on the device when the network is down, and says so', async () => {
    const { wrapper } = await mountPage()
    await fill(wrapper)
    network = 'down'
    await wrapper.find('form').trigger('submit')
    await vi.waitFor(() => expect(wrapper.text()).toContain('上报已保存在本机'))
    expect(wrapper.text()).toContain('有 1 条上报等待发送')
    const [kept] = await pendingReports.list('demo:2024020001')
    expect(kept!.body.student_no).toBe('2024020031')
    expect((wrapper.find('#field-note').element as HTMLTextAreaElement).value).toBe('')
  })

  it('asks the reporter to call first when someone may be in danger now', async () => {
    const { wrapper } = await mountPage()
    expect(wrapper.text()).not.toContain('如果这件事正在发生')
    await wrapper.find('[data-signal="suicide_attempt"]').trigger('click')
    expect(wrapper.text()).toContain('如果这件事正在发生')
  })
})
