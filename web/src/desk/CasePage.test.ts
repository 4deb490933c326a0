// A case as a college leader opens it: structured facts, no control casework would refuse.
// Walking the demo, the leader's case page offered "acknowledge", the next steps, consent and
// a notes box, and greeted them with a 403 toast for the notes it fetched; each click another.
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createMemoryHistory, createRouter } from 'vue-router'
import { useSession } from '@/api/session'
import type { Role } from '@/api/types'
import { i18n } from '@/i18n'
import CasePage from './CasePage.vue'

const DETAIL: Record<string, unknown> & { report_channels?: string[] } = {
  case_id: 'c1',
  student_ref: 'stu_1',
  state: 'open',
  severity: 'severe',
  owner_ref: 'per_center',
  owner_role: 'counseling_center',
  opened_at: '2026-12-06T17:00:00Z',
  updated_at: '2026-12-06T17:00:00Z',
  version: 1,
  outcome: null,
  report_ids: [],
  closed_at: null,
  allowed_transitions: ['intervention', 'monitoring'],
  alerts: [
    {
      alert_id: 'a1',
      severity: 'severe',
      owner_role: 'college_leader',
      ack_deadline: '2026-12-06T18:00:00Z',
      escalation_level: 2,
      acknowledged_at: null,
      acknowledged_by_ref: null,
    },
    {
      alert_id: 'a2',
      severity: 'moderate',
      owner_role: 'residence_counselor',
      ack_deadline: '2026-12-06T19:00:00Z',
      escalation_level: 0,
      acknowledged_at: null,
      acknowledged_by_ref: null,
    },
  ],
  referral: null,
  follow_ups: [],
}
let urls: string[]

function answer(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })
}

async function mountCase(role: Role) {
  const pinia = createPinia()
  setActivePinia(pinia)
  useSession().apply({
    signed_in: true,
    user: { sub: 'X', role, role_label: '', campus_id: 'demo', display_name: '', scope: [] },
    csrf_token: 'csrf-1',
    expires_at: null,
    methods: { local: true, oidc: false },
  })
  const router = createRouter({ history: createMemoryHistory(), routes: [{ path: '/desk/cases/:id', component: CasePage }] })
  await router.push('/desk/cases/c1')
  const wrapper = mount(CasePage, { global: { plugins: [pinia, i18n, router] }, attachTo: document.body })
  await flushPromises()
  return wrapper
}

beforeEach(() => {
  i18n.global.locale.value = 'zh-CN'
  urls = []
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string) => {
      urls.push(url)
      if (url === '/api/casework/v1/cases/c1') return answer(DETAIL)
      if (url.endsWith('/history')) return answer([])
      if (url.endsWith('/notes')) return answer([])
      if (url.endsWith('/plan')) return answer({ version: 1, actions: [], review_dates: [] })
      return answer({ items: [] })
    }),
  )
})
afterEach(() => {
  vi.useRealTimers()
  vi.unstubAllGlobals()
  document.body.innerHTML = ''
})

describe('the case page', () => {
  it('shows a college leader the case and no control casework refuses them', async () => {
    const wrapper = await mountCase('college_leader')
    expect(wrapper.text()).toContain('已上报 2 级') // the awaiting list's words, not 已升级
    expect(wrapper.get('[data-testid="case-read-only"]').text()).toContain('你可以查看个案的进展')
    expect(wrapper.find('[data-step]').exists()).toBe(false)
    expect(wrapper.findAll('button').filter((b) => b.text() === '确认预警')).toHaveLength(0)
    expect(wrapper.text()).not.toContain('家校联系知情同意')
    expect(urls.some((u) => u.endsWith('/notes'))).toBe(false)
  })

  it('gives a counselor the steps, the acknowledgement and the records', async () => {
    const warn = vi.spyOn(console, 'warn')
    const wrapper = await mountCase('residence_counselor')
    // The plan's table asks for no message it lacks ("actionKind.undefined").
    expect(warn.mock.calls.flat().filter((m) => String(m).includes('Not found'))).toEqual([])
    warn.mockRestore()
    expect(wrapper.findAll('[data-step]').map((b) => b.attributes('data-step'))).toEqual(['intervention', 'monitoring'])
    // Their own tier's alert, not the one that climbed to the college leader (the center's to
    // stop): offering that one was a 403 on a click.
    const confirm = wrapper.findAll('button').filter((b) => b.text() === '确认预警')
    expect(confirm).toHaveLength(1)
    expect(confirm[0]!.element.closest('.case__alert')!.textContent).toContain('中度')
    expect(urls.some((u) => u.endsWith('/notes'))).toBe(true)
  })

  it('lets the counseling center confirm the alert that climbed past the counselor', async () => {
    const wrapper = await mountCase('counseling_center')
    expect(wrapper.findAll('button').filter((b) => b.text() === '确认预警')).toHaveLength(2)
  })

  it('says an open follow-up has no finding yet, and the time picked for the next in the page language', async () => {
    // At 375 px the finding box was blank, and the native time field read "mm/dd/yyyy, --:-- --"
    // under a hidden label.
    vi.useFakeTimers({ toFake: ['Date'], now: new Date(2026, 11, 7, 17, 39) })
    const followUp = { follow_up_id: 'f1', purpose: 'routine', due_at: '2026-12-08T01:00:00Z', assignee_ref: null, status: 'scheduled', closed_at: null, missed: false }
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string) => {
        if (url === '/api/casework/v1/cases/c1') return answer({ ...DETAIL, follow_ups: [followUp] })
        if (url.endsWith('/history') || url.endsWith('/notes')) return answer([])
        if (url.endsWith('/plan')) return answer({ version: 1, actions: [], review_dates: [] })
        return answer({ items: [] })
      }),
    )
    const wrapper = await mountCase('residence_counselor')
    const finding = wrapper.get('[data-testid="follow-up-finding"]').element as HTMLSelectElement
    expect(finding.selectedOptions[0]?.textContent).toBe('结论未记录')
    const due = wrapper.get('#follow-up-due')
    const said = wrapper.get('[data-testid="follow-up-due-said"]')
    expect(due.attributes('aria-describedby')).toBe(said.attributes('id'))
    expect(said.text()).toBe('选择下次回访的时间')
    await due.setValue('2026-12-09T09:30')
    expect(said.text()).toBe('回访时间：12月9日 09:30')
    await due.setValue('2027-01-04T09:30') // past New Year: its year said
    expect(said.text()).toBe('回访时间：2027年1月4日 09:30')
  })

  it('completes a follow-up with what took place, not the button label, and says it is recorded', async () => {
    // The walk: 已完成 gave no confirmation and sent its own label as the reason, which the
    // history then showed in that language.
    const followUp = { follow_up_id: 'f1', purpose: 'routine', due_at: '2026-12-08T01:00:00Z', assignee_ref: null, status: 'scheduled', closed_at: null, missed: false }
    const sent: { method: string; body: unknown }[] = []
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string, init?: RequestInit) => {
        if (url.endsWith('/follow-ups/f1')) {
          sent.push({ method: String(init?.method), body: JSON.parse(String(init?.body)) })
          return answer({ ...followUp, status: 'completed' })
        }
        if (url === '/api/casework/v1/cases/c1') return answer({ ...DETAIL, follow_ups: [followUp] })
        if (url.endsWith('/history') || url.endsWith('/notes')) return answer([])
        if (url.endsWith('/plan')) return answer({ version: 1, actions: [], review_dates: [] })
        return answer({ items: [] })
      }),
    )
    const wrapper = await mountCase('residence_counselor')
    const button = wrapper.get('[data-testid="complete-follow-up"]')
    expect(button.attributes('disabled')).toBeDefined() // casework needs why: asked first
    await wrapper.get('[data-testid="follow-up-finding"]').setValue('relieved')
    await wrapper.get('[data-testid="follow-up-note"]').setValue('  电话回访，情绪平稳  ')
    expect(button.attributes('disabled')).toBeUndefined()
    await button.trigger('click')
    await flushPromises()
    expect(sent).toEqual([{ method: 'PATCH', body: { close_as: 'completed', reason: '电话回访，情绪平稳', finding: 'relieved' } }])
    expect(document.body.textContent).toContain('已记录回访完成')
  })

  it("says who owns the case with each language's own colon", async () => {
    // Walking the demo in English, the case head read "Owner：Counseling center · Opened：Dec 7":
    // the colon was Chinese punctuation written into the page, not the message.
    const zh = await mountCase('residence_counselor')
    expect(zh.get('[data-testid="case-owner"]').text()).toBe('负责人：心理健康教育与咨询中心')
    zh.unmount()
    i18n.global.locale.value = 'en'
    const en = await mountCase('residence_counselor')
    expect(en.get('[data-testid="case-owner"]').text()).toBe('Owner: Counseling center')
    expect(en.get('.case__head').text()).toContain('Opened: ')
    expect(en.get('.case__head').text()).not.toContain('：')
  })

  it('says when the student asked for help, and nothing when the reporters saw it themselves', async () => {
    DETAIL.report_channels = ['observed', 'self_referral']
    try {
      const zh = await mountCase('residence_counselor')
      expect(zh.get('[data-testid="case-channels"]').text()).toBe('获知途径：学生本人求助')
      zh.unmount()
      i18n.global.locale.value = 'en'
      const en = await mountCase('residence_counselor')
      expect(en.get('[data-testid="case-channels"]').text()).toBe('Learned of: The student asked for help')
      en.unmount()
      DETAIL.report_channels = ['observed']
      const seen = await mountCase('residence_counselor')
      expect(seen.find('[data-testid="case-channels"]').exists()).toBe(false)
    } finally {
      delete DETAIL.report_channels
    }
  })

  it('says on the page why a case cannot be opened, and where to go instead', async () => {
    // A college leader opening a case of another college got a toast that faded over a
    // blank page: nothing left to read, nowhere to go.
    vi.stubGlobal(
      'fetch',
      vi.fn(async () =>
        answer({ type: 'about:blank', title: 'Forbidden', status: 403, code: 'out_of_scope', detail: '该学生不在您的负责范围内' }, 403),
      ),
    )
    const wrapper = await mountCase('college_leader')
    const page = wrapper.get('[data-testid="case-unavailable"]')
    expect(page.text()).toContain('该学生不在您的负责范围内')
    expect(page.get('a').attributes('href')).toBe('/desk/queue')
  })
})

describe('family-contact consent', () => {
  let history: unknown[]
  let posted: unknown[]
  beforeEach(() => {
    posted = []
    history = []
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string, init: RequestInit = {}) => {
        if (url === '/api/casework/v1/cases/c1') return answer(DETAIL)
        if (url.endsWith('/family-consent')) {
          const body = JSON.parse(String(init.body)) as { decision: string; reason: string | null }
          posted.push(body)
          history.push({ seq: history.length + 1, kind: 'consent_recorded', from_state: null, to_state: null, actor_role: 'residence_counselor', detail: { subject: 'family_contact', decision: body.decision }, text: body.reason, at: '2026-12-06T17:30:00Z' })
          return answer({ consent_id: 'k1' }, 201)
        }
        if (url.endsWith('/history')) return answer(history)
        if (url.endsWith('/plan')) return answer({ version: 1, actions: [], review_dates: [] })
        return answer([])
      }),
    )
  })

  it('says the decision in force, and offers withdrawing a consent once given', async () => {
    const wrapper = await mountCase('residence_counselor')
    const choices = () => wrapper.findAll('.el-radio').map((r) => r.text())
    expect(wrapper.get('[data-testid="consent-now"]').text()).toBe('尚未记录学生是否同意联系家长。')
    expect(choices()).toEqual(['同意', '不同意']) // overriding is tier 5+, not a counselor's
    await wrapper.findAll('button').find((b) => b.text() === '记录')!.trigger('click')
    await flushPromises()
    expect(posted).toEqual([{ decision: 'given', reason: null }])
    expect(wrapper.get('[data-testid="consent-now"]').text()).toMatch(/^当前：同意（.+）$/)
    expect(choices()[0]).toBe('撤回同意')
    await wrapper.findAll('.el-radio')[0]!.trigger('click')
    await wrapper.findAll('button').find((b) => b.text() === '记录')!.trigger('click')
    await flushPromises()
    expect(posted[1]).toEqual({ decision: 'withdrawn', reason: null })
    expect(wrapper.get('[data-testid="consent-now"]').text()).toContain('当前：撤回同意')
    expect(choices()).not.toContain('撤回同意')
    expect(wrapper.text()).toContain('记录知情同意：撤回同意') // the history names the decision
  })

  it('says in the history where a referral went, with what consent, and where it stands', async () => {
    history.push(
      { seq: 1, kind: 'transitioned', from_state: 'intervention', to_state: 'referred', actor_role: 'counseling_center', detail: { consent: 'given', referral_type: 'hospital' }, text: null, at: '2026-12-06T17:30:00Z' },
      { seq: 2, kind: 'referral_updated', from_state: null, to_state: null, actor_role: 'counseling_center', detail: { from: 'pending', to: 'accepted' }, text: null, at: '2026-12-06T17:40:00Z' },
    )
    const wrapper = await mountCase('counseling_center')
    expect(wrapper.text()).toContain('转介：医院 · 学生已同意')
    expect(wrapper.text()).toContain('转介状态更新：已接收')
  })
})
