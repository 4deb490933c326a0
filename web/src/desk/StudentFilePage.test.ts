// The student file as a counselor reads it: the instrument by its name, not its id, and each
// grade with the reasons triage gave for it, in the reader's language.
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createMemoryHistory, createRouter } from 'vue-router'
import { i18n } from '@/i18n'
import { NARROW } from './narrow'
import StudentFilePage from './StudentFilePage.vue'

const FILE = {
  student: { name: '测试学生02', student_no: '2024030002', college: '医学院', class_name: '护理2401', building: '7号楼', room: '303' },
  reports: [],
  screenings: [
    { screening_id: 's1', instrument: 'phq9', total_score: 4, administered_at: '2026-12-06T19:13:00+00:00' },
  ],
  assessments: [
    {
      assessment_id: 'a1',
      severity: 'critical',
      graded_at: '2026-12-07T03:13:56+00:00',
      reasons: [
        {
          rule_id: 'redflag.suicide_plan',
          text_zh: '有人报告学生有自杀计划（等同 C-SSRS 第4、5题），危急，须立即干预。',
          text_en: 'A suicide plan was reported (as C-SSRS Q4/Q5); critical, intervene at once.',
        },
      ],
    },
  ],
  cases: [],
  access: { break_glass: false },
}

async function mountPage() {
  const pinia = createPinia()
  setActivePinia(pinia)
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [{ path: '/desk/students/:ref', component: StudentFilePage }],
  })
  await router.push('/desk/students/stu_1')
  const wrapper = mount(StudentFilePage, { global: { plugins: [pinia, i18n, router] } })
  await flushPromises()
  return wrapper
}

beforeEach(() => {
  i18n.global.locale.value = 'zh-CN'
  vi.stubGlobal(
    'fetch',
    vi.fn(async () => new Response(JSON.stringify(FILE), { status: 200, headers: { 'Content-Type': 'application/json' } })),
  )
})
afterEach(() => {
  vi.unstubAllGlobals()
})

describe('the student file', () => {
  it('names the instrument and its total, not "phq9 · 4"', async () => {
    const wrapper = await mountPage()
    expect(wrapper.text()).toContain('患者健康问卷（PHQ-9） · 总分 4')
    expect(wrapper.text()).not.toContain('phq9')
  })

  it('on a phone, gives who the student is one line each', async () => {
    vi.stubGlobal('matchMedia', (query: string) => ({
      matches: query === NARROW,
      addEventListener: () => undefined,
      removeEventListener: () => undefined,
    }))
    const wrapper = await mountPage()
    // One label-value pair a row: three a row wrapped 测试学生02 one character a line.
    expect(wrapper.get('[data-testid="file-who"]').findAll('tr')).toHaveLength(3)
  })

  it('says why each grade was given, in the reader’s language', async () => {
    const wrapper = await mountPage()
    expect(wrapper.get('[data-testid="file-reasons"]').text()).toContain('有人报告学生有自杀计划')
    i18n.global.locale.value = 'en'
    await flushPromises()
    expect(wrapper.get('[data-testid="file-reasons"]').text()).toContain('A suicide plan was reported')
  })

  it('says how each reporter learned of it, in the reader’s language; nothing for an older report', async () => {
    const reports = [
      { report_id: 'r1', signals: ['hopelessness'], observed_at: '2026-12-07T09:39:00+00:00', channel: 'self_referral' },
      { report_id: 'r2', signals: ['sleep_disturbance'], observed_at: '2026-12-06T09:39:00+00:00', channel: 'family_call' },
      { report_id: 'r3', signals: ['social_withdrawal'], observed_at: '2026-12-05T09:39:00+00:00' }, // before the field
    ]
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => new Response(JSON.stringify({ ...FILE, reports }), { status: 200, headers: { 'Content-Type': 'application/json' } })),
    )
    const wrapper = await mountPage()
    const said = () => wrapper.findAll('[data-testid="report-channel"]').map((tag) => tag.text())
    expect(said()).toEqual(['· 获知途径：学生本人求助', '· 获知途径：家长来电反映'])
    i18n.global.locale.value = 'en'
    await flushPromises()
    expect(said()).toEqual(['· How the reporter knew: The student asked for help', '· How the reporter knew: A family member called'])
  })
})
