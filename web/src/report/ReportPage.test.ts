// The report page as a reporter uses it, with fetch standing in for the gateway: errors by
// field, a report sent with an Idempotency-Key, and a report kept on the device when the
// network is down.
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createMemoryHistory, createRouter } from 'vue-router'
import { useSession } from '@/api/session'
import type { Role } from '@/api/types'
import { i18n } from '@/i18n'
import { pendingReports } from '@/offline/store'
import ReportPage from './ReportPage.vue'

type Call = { url: string; init: RequestInit }
let calls: Call[]
const mounted: { unmount: () => void }[] = []
let network: 'up' | 'down'
/** Intake's answer to a report for now: accepted, or the edge's 429 (as servicekit's
 * `too_many_requests` makes it) or intake's 503 when Kafka is down. */
let intake: 'takes' | 'limited' | 'unavailable' | 'refuses_channel'

function answer(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })
}

function problem(status: number, body: Record<string, unknown>, retryAfter?: string): Response {
  return new Response(JSON.stringify({ type: `urn:shouwang:problem:${String(body.code)}`, status, ...body }), {
    status,
    headers: { 'Content-Type': 'application/problem+json', ...(retryAfter ? { 'Retry-After': retryAfter } : {}) },
  })
}

async function mountPage(role: Role = 'dorm_leader') {
  const pinia = createPinia()
  setActivePinia(pinia)
  const session = useSession()
  session.apply({
    signed_in: true,
    user: { sub: '2024020001', role, role_label: '寝室长', campus_id: 'demo', display_name: '', scope: [] },
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
  mounted.push(wrapper)
  await flushPromises()
  return { wrapper, router }
}

beforeEach(() => {
  i18n.global.locale.value = 'zh-CN'
  calls = []
  network = 'up'
  intake = 'takes'
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string, init: RequestInit = {}) => {
      calls.push({ url, init })
      if (url.startsWith('/api/casework/v1/students/lookup'))
        // Casework's lookup counts a student reporter among the students in their own scope.
        return answer({ items: [{ student_ref: 'r01', student_no: '2024020001', name: '测试寝室长', college: null, class_name: '软件2401', building: '8号楼', room: '202' }, { student_ref: 'r31', student_no: '2024020031', name: '测试学生31', college: null, class_name: '软件2401', building: '8号楼', room: '202' }] })
      if (url === '/auth/campuses') return answer({ everywhere: [], campuses: [] })
      if (network === 'down') throw new TypeError('Failed to fetch')
      if (url === '/api/intake/v1/reports' && intake === 'limited')
        return problem(429, { code: 'rate_limited', detail: '上报过于频繁，请在 300 秒后重试' }, '300')
      if (url === '/api/intake/v1/reports' && intake === 'unavailable')
        return problem(503, { code: 'kafka_unavailable', detail: '消息系统暂时无法确认写入，请稍后重试' }, '5')
      if (url === '/api/intake/v1/reports' && intake === 'refuses_channel')
        return problem(422, { code: 'channel_not_for_role', detail: '你的角色不能以“家长来电反映”上报' })
      if (url === '/api/intake/v1/reports') return answer({ report_id: 'c0ffee00-0000-4000-8000-000000000001' }, 202)
      return answer({})
    }),
  )
})

afterEach(async () => {
  mounted.splice(0).forEach((wrapper) => wrapper.unmount()) // its 'online' listener and timers go too
  vi.useRealTimers()
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

// A bound for a loaded machine, not a timing assertion: each wait ends as soon as it holds.
const settled = { timeout: 10_000 }
const offered = (wrapper: Awaited<ReturnType<typeof mountPage>>['wrapper']) =>
  wrapper.findAll<HTMLInputElement>('input[name="channel"]').map((radio) => radio.element.value)
const checked = (wrapper: Awaited<ReturnType<typeof mountPage>>['wrapper']) =>
  wrapper.find<HTMLInputElement>('input[name="channel"]:checked').element.value

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

  it('never lists the reporter themself, but takes their own number typed in as their own request for help', async () => {
    const { wrapper, router } = await mountPage()
    await vi.waitFor(() => expect(wrapper.find('.picker__option').exists()).toBe(true))
    expect(wrapper.findAll('.picker__option').map((o) => o.text())).toEqual([expect.stringContaining('2024020031')])
    expect(wrapper.find('[data-testid="for-yourself"]').exists()).toBe(false)
    await wrapper.find('#student-search').setValue('2024020001')
    await vi.waitFor(() => expect(calls.filter((c) => c.url.includes('lookup?q=2024020001'))).toHaveLength(1))
    await flushPromises()
    expect(wrapper.text()).not.toContain('测试寝室长') // still not listed
    expect(wrapper.find('.picker__number').exists()).toBe(false)
    expect(wrapper.text()).not.toContain('在你负责的范围内没有找到')
    // Said warmly, not refused: where it goes, and the numbers to call first.
    const offer = wrapper.get('[data-testid="for-yourself"]')
    expect(offer.text()).toContain('作为你本人的求助交给你的辅导员')
    expect(offer.text()).toContain('如果你现在有危险，请先拨打下面的电话')
    expect(offer.find('.calls').text()).toContain('全国通用电话') // the numbers (the stand-in directory lists none)
    await offer.get('.picker__own').trigger('click')

    // The rest of the form reads as their own request: the channel fixed to self-referral.
    expect(wrapper.get('.picker__chosen').text()).toContain('我自己（2024020001）')
    expect(offered(wrapper)).toEqual(['self_referral'])
    expect(checked(wrapper)).toBe('self_referral')
    expect(wrapper.get('[data-testid="asked-for-help"]').text()).toBe('谢谢你愿意说出来，这需要勇气。负责的老师会主动联系你。')
    expect(wrapper.get('[data-testid="for-yourself"]').text()).toContain('请先拨打下面的电话')
    expect(wrapper.text()).not.toContain('同学不会知道是谁上报的')
    expect(wrapper.text()).not.toContain('请告诉这位同学')
    expect(wrapper.text()).toContain('你最近的情况')
    expect(wrapper.get('#field-note').attributes('placeholder')).toContain('你最近怎么样')
    expect(wrapper.get('.report__submit').text()).toBe('提交求助')
    await wrapper.find('[data-signal="hopelessness"]').trigger('click')
    await wrapper.find('form').trigger('submit')
    await vi.waitFor(() => expect(router.currentRoute.value.path).toMatch(/^\/report\/receipts\//), settled)
    const sent = JSON.parse(String(calls.find((c) => c.url === '/api/intake/v1/reports')!.init.body))
    expect([sent.student_no, sent.channel]).toEqual(['2024020001', 'self_referral'])
  })

  it('goes back to the usual channels when the reporter changes from themself to another student', async () => {
    const { wrapper } = await mountPage()
    await wrapper.find('#student-search').setValue('２０２４０２０００１') // a phone's full-width digits
    await vi.waitFor(() => expect(wrapper.find('.picker__own').exists()).toBe(true))
    await wrapper.get('.picker__own').trigger('click')
    expect(checked(wrapper)).toBe('self_referral')
    await wrapper.get('.picker__change').trigger('click')
    expect(offered(wrapper)).toEqual(['observed', 'self_referral'])
    expect(checked(wrapper)).toBe('observed')
    expect(wrapper.get('.report__submit').text()).toBe('提交上报')
    expect(wrapper.find('.picker__own').exists()).toBe(true) // their number is still typed
    await wrapper.find('#student-search').setValue('2024020099')
    expect(wrapper.find('[data-testid="for-yourself"]').exists()).toBe(false)
    expect(wrapper.find('.picker__number').text()).toBe('按学号上报：2024020099')
  })

  it('offers their own number in English too', async () => {
    i18n.global.locale.value = 'en'
    const { wrapper } = await mountPage()
    await wrapper.find('#student-search').setValue('2024020001')
    await vi.waitFor(() => expect(wrapper.find('.picker__own').exists()).toBe(true))
    expect(wrapper.get('[data-testid="for-yourself"]').text()).toContain('goes to your counselor as your own request for help')
    expect(wrapper.get('.picker__own').text()).toBe('Ask for help for myself')
  })

  it('does not ask casework for a campus-wide search under two characters, and says why in the hint', async () => {
    // The walk: the counseling center's empty search on load drew a 422 (query_too_short) that
    // the page hid, leaving an empty list and no word why.
    const { wrapper } = await mountPage('counseling_center')
    const lookups = () => calls.filter((c) => c.url.startsWith('/api/casework/v1/students/lookup')).map((c) => c.url)
    expect(lookups()).toEqual([])
    const hint = wrapper.get('[data-testid="search-hint"]')
    expect(hint.text()).toBe('全校范围较大：请至少输入学号或姓名中的两个字再查找。')
    expect(wrapper.get('#student-search').attributes('aria-describedby')).toBe(hint.attributes('id'))
    await wrapper.find('#student-search').setValue('测')
    await new Promise((r) => setTimeout(r, 300)) // past the picker's 250 ms pause before it asks
    expect(lookups()).toEqual([])
    expect(wrapper.text()).not.toContain('在你负责的范围内没有找到')
    await wrapper.find('#student-search').setValue('测试')
    await vi.waitFor(() => expect(lookups()).toEqual([`/api/casework/v1/students/lookup?q=${encodeURIComponent('测试')}&limit=20`]))
    await flushPromises()
    expect(wrapper.find('[data-testid="search-hint"]').exists()).toBe(false)
    expect(wrapper.findAll('.picker__option')).toHaveLength(2)
  })

  it('still lists a dorm leader their own small scope on load, with no hint', async () => {
    const { wrapper } = await mountPage('dorm_leader')
    await vi.waitFor(() => expect(wrapper.find('.picker__option').exists()).toBe(true))
    expect(wrapper.find('[data-testid="search-hint"]').exists()).toBe(false)
  })

  it('does not take a staff id that equals a student number for the reporter themself', async () => {
    const { wrapper } = await mountPage('residence_counselor')
    await wrapper.find('#student-search').setValue('2024020001')
    await vi.waitFor(() => expect(calls.some((c) => c.url.includes('lookup?q=2024020001'))).toBe(true))
    await flushPromises()
    expect(wrapper.find('[data-testid="for-yourself"]').exists()).toBe(false)
    expect(wrapper.find('.picker__own').exists()).toBe(false)
  })

  it('takes staff who report back to their desk, and a student reporter nowhere they cannot go', async () => {
    const staff = (await mountPage('residence_counselor')).wrapper
    expect(staff.findAll('.report__nav a').map((a) => [a.text(), a.attributes('href')])).toContainEqual(['工作台', '/desk/awaiting'])
    staff.unmount()
    const student = (await mountPage()).wrapper
    expect(student.findAll('.report__nav a').map((a) => a.text())).toEqual(['我的上报'])
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
    expect(body).not.toHaveProperty('channel') // seen or heard by the reporter: intake's default
    expect(await pendingReports.list('demo:2024020001')).toEqual([])
  })

  it('keeps the report on the device when the network is down, and says so', async () => {
    const { wrapper } = await mountPage()
    await fill(wrapper)
    network = 'down'
    await wrapper.find('form').trigger('submit')
    await vi.waitFor(() => expect(wrapper.text()).toContain('已保存在本机'))
    expect(wrapper.text()).toContain('有 1 条上报等待发送')
    const [kept] = await pendingReports.list('demo:2024020001')
    expect(kept!.body.student_no).toBe('2024020031')
    expect((wrapper.find('#field-note').element as HTMLTextAreaElement).value).toBe('')
  })

  it('says plainly a report refused for now (429) was not sent, when it goes again, and whom to call; keeps it', async () => {
    const { wrapper } = await mountPage()
    await fill(wrapper)
    intake = 'limited'
    await wrapper.find('form').trigger('submit')
    await vi.waitFor(() => expect(wrapper.text()).toContain('这条上报还没有发出'))
    const held = wrapper.get('[data-testid="report-held"]')
    expect(held.attributes('role')).toBe('alert')
    expect(held.text()).toContain('你最近提交的上报较多')
    expect(held.text()).toMatch(/约 5 分钟后（\d\d:\d\d）会自动重新发送/)
    expect(held.text()).toContain('马上拨打下面的电话（120 急救、110 报警、值班老师）')
    expect(held.text()).not.toContain('网络不通')
    const [kept] = await pendingReports.list('demo:2024020001')
    expect(kept!.body).toMatchObject({ student_no: '2024020031', note: '最近总说活着没意思' })
    expect(kept!.held?.reason).toBe('limited')

    // Not sent again before Retry-After: not when the network comes back, nor on a tap.
    const sends = () => calls.filter((c) => c.url === '/api/intake/v1/reports').length
    expect(sends()).toBe(1)
    expect(wrapper.get('.report__send').attributes('disabled')).toBeDefined()
    window.dispatchEvent(new Event('online'))
    await flushPromises()
    expect(sends()).toBe(1)

    // Once it has passed, the same report goes with the same key, and the page says so.
    intake = 'takes'
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now() + 301_000)
    window.dispatchEvent(new Event('online'))
    await vi.waitFor(() => expect(wrapper.text()).toContain('之前保存的上报已经发出'))
    const sent = calls.filter((c) => c.url === '/api/intake/v1/reports')
    expect(sent).toHaveLength(2)
    const key = (c: Call) => (c.init.headers as Record<string, string>)['Idempotency-Key']
    expect(key(sent[1]!)).toBe(key(sent[0]!))
    expect(wrapper.find('[data-testid="report-held"]').exists()).toBe(false)
    expect(await pendingReports.list('demo:2024020001')).toEqual([])
  })

  it('says a report the system cannot take now (503) was not sent, and keeps it', async () => {
    const { wrapper } = await mountPage()
    await fill(wrapper)
    intake = 'unavailable'
    await wrapper.find('form').trigger('submit')
    await vi.waitFor(() => expect(wrapper.text()).toContain('这条上报还没有发出'))
    expect(wrapper.text()).toContain('系统暂时无法接收上报')
    expect(wrapper.text()).toMatch(/\d 秒后会自动重新发送/)
    expect(await pendingReports.list('demo:2024020001')).toHaveLength(1)
  })

  it('says the same in English when asked', async () => {
    i18n.global.locale.value = 'en'
    const { wrapper } = await mountPage()
    await fill(wrapper)
    intake = 'limited'
    await wrapper.find('form').trigger('submit')
    await vi.waitFor(() => expect(wrapper.text()).toContain('This report has NOT been sent yet.'))
    expect(wrapper.text()).toMatch(/sent again automatically in about 5 min \(\d\d:\d\d\)/)
    expect(wrapper.text()).toContain('If a student is in danger now, do not wait for the report')
  })

  it('says the chosen time in the page language beside the native field, which follows the browser', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: new Date(2026, 11, 8, 9, 0) })
    const { wrapper } = await mountPage()
    const field = wrapper.get('#field-observedAt')
    const said = wrapper.get('[data-testid="observed-said"]')
    expect(document.getElementById(field.attributes('aria-describedby')!)).toBe(said.element) // read with the field
    await field.setValue('2026-12-07T17:39')
    expect(said.text()).toBe('观察时间：12月7日 17:39')
    i18n.global.locale.value = 'en'
    await flushPromises()
    expect(said.text()).toBe('Noticed: Dec 7, 17:39')
    await field.setValue('2025-12-07T17:39') // last year's: its year said
    expect(said.text()).toBe('Noticed: Dec 7, 2025, 17:39')
    await field.setValue('')
    expect(said.text()).toBe('')
  })

  it('asks the reporter to call first when someone may be in danger now', async () => {
    const { wrapper } = await mountPage()
    expect(wrapper.text()).not.toContain('如果这件事正在发生')
    await wrapper.find('[data-signal="suicide_attempt"]').trigger('click')
    expect(wrapper.text()).toContain('如果这件事正在发生')
  })
})

describe('how the reporter learned of it', () => {

  it('asks first, as one labelled radio group, seen-it-myself chosen', async () => {
    const { wrapper } = await mountPage()
    const group = wrapper.get('[role="radiogroup"]')
    expect(document.getElementById(group.attributes('aria-labelledby')!)!.textContent).toBe('你是怎么知道的')
    // Native radios sharing one name: the arrow keys move the choice, Tab leaves the group.
    expect(group.findAll('input').every((radio) => radio.attributes('type') === 'radio')).toBe(true)
    expect(checked(wrapper)).toBe('observed')
    expect(group.text()).toContain('亲眼所见')
    // Before whom and what: seen on a phone without scrolling past the student list.
    const form = wrapper.get('form').element
    expect(form.querySelector('.report__block')!.contains(group.element)).toBe(true)
  })

  it('offers a student reporter only what they can have learned it by', async () => {
    const { wrapper } = await mountPage('dorm_leader')
    expect(offered(wrapper)).toEqual(['observed', 'self_referral'])
  })

  it('offers a counseling center every way, in the contract’s words in English', async () => {
    i18n.global.locale.value = 'en'
    const { wrapper } = await mountPage('counseling_center')
    expect(offered(wrapper)).toEqual(['observed', 'self_referral', 'family_call', 'counseling_session'])
    const words = wrapper.findAll('.channels__option').map((option) => option.text())
    expect(words).toEqual(['Observed by the reporter', 'The student asked for help', 'A family member called', 'Found in a counseling session'])
  })

  it('sends the channel chosen; when the student asked for help, says it is a good sign and what to tell them', async () => {
    const { wrapper, router } = await mountPage()
    expect(wrapper.get('[data-testid="asked-for-help"]').text()).toBe('')
    await wrapper.get('input[value="self_referral"]').setValue(true)
    expect(wrapper.get('[data-testid="asked-for-help"]').text()).toContain('这是好的迹象')
    expect(wrapper.get('[data-testid="asked-for-help"]').text()).toContain('负责的老师会主动联系')
    expect(wrapper.text()).not.toContain('同学不会知道是谁上报的') // the student knows: they asked
    expect(wrapper.get('#field-note').attributes('placeholder')).toContain('这位同学跟你讲了什么')
    await fill(wrapper)
    await wrapper.find('form').trigger('submit')
    await vi.waitFor(() => expect(router.currentRoute.value.path).toMatch(/^\/report\/receipts\//), settled)
    const sent = calls.find((c) => c.url === '/api/intake/v1/reports')!
    expect(JSON.parse(String(sent.init.body)).channel).toBe('self_referral')
  })

  it('still asks to call first for danger now when the student asked for help', async () => {
    const { wrapper } = await mountPage()
    await wrapper.get('input[value="self_referral"]').setValue(true)
    await wrapper.find('[data-signal="suicide_plan"]').trigger('click')
    expect(wrapper.get('.report__urgent').text()).toContain('如果这件事正在发生')
    expect(wrapper.get('.report__urgent').attributes('role')).toBe('alert')
  })

  it('shows intake’s refusal of a channel the role cannot have used, and keeps the draft', async () => {
    const { wrapper } = await mountPage('residence_counselor')
    await wrapper.get('input[value="family_call"]').setValue(true)
    await fill(wrapper)
    intake = 'refuses_channel'
    await wrapper.find('form').trigger('submit')
    await vi.waitFor(() => expect(wrapper.text()).toContain('你的角色不能以“家长来电反映”上报'), settled)
    expect(wrapper.get('.report__form [role="alert"]').text()).toContain('家长来电反映')
    expect(checked(wrapper)).toBe('family_call')
    expect((wrapper.find('#field-note').element as HTMLTextAreaElement).value).toBe('最近总说活着没意思')
    expect(await pendingReports.list('demo:2024020001')).toEqual([])
  })

  it('keeps the channel with a report held on the device, and sends it with it later', async () => {
    const { wrapper } = await mountPage()
    await wrapper.get('input[value="self_referral"]').setValue(true)
    await fill(wrapper)
    network = 'down'
    await wrapper.find('form').trigger('submit')
    await vi.waitFor(() => expect(wrapper.text()).toContain('已保存在本机'), settled)
    const [kept] = await pendingReports.list('demo:2024020001')
    expect(kept!.body.channel).toBe('self_referral')
    expect(checked(wrapper)).toBe('observed') // a fresh draft for the next report

    network = 'up'
    window.dispatchEvent(new Event('online'))
    await vi.waitFor(() => expect(wrapper.text()).toContain('之前保存的上报已经发出'), settled)
    const sent = calls.filter((c) => c.url === '/api/intake/v1/reports')
    expect(sent).toHaveLength(2)
    expect(JSON.parse(String(sent[1]!.init.body)).channel).toBe('self_referral')
  })
})
