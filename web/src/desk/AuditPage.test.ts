// An auditor asks who has seen one student: by 学号, and a live page's entry reads as what it
// stands for (its first showing, and until when showings wrote nothing more), in words.
import { flushPromises, mount } from '@vue/test-utils'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { i18n } from '@/i18n'
import AuditPage from './AuditPage.vue'

const ENTRIES = [
  {
    id: 2,
    at: '2026-12-07T01:00:00Z',
    principal_ref: 'per_1',
    role: 'residence_counselor',
    student_ref: 'stu_1',
    action: 'case.awaiting.read',
    reason: null,
    break_glass: false,
    covers_until: '2026-12-07T01:15:00Z',
  },
  {
    id: 1,
    at: '2026-12-07T00:59:00Z',
    principal_ref: 'per_1',
    role: 'residence_counselor',
    student_ref: 'stu_1',
    action: 'case.read',
    reason: null,
    break_glass: false,
    covers_until: null,
  },
]
let urls: string[]

beforeEach(() => {
  i18n.global.locale.value = 'zh-CN'
  urls = []
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string) => {
      urls.push(url)
      return new Response(JSON.stringify({ items: ENTRIES, next_before_id: null }), {
        status: 200,
        headers: { 'Content-Type': 'application/json' },
      })
    }),
  )
})
afterEach(() => {
  vi.unstubAllGlobals()
  document.body.innerHTML = ''
})

describe('the audit page', () => {
  it("finds one student's entries by 学号 and says what a live page's entry stands for", async () => {
    const wrapper = mount(AuditPage, { global: { plugins: [i18n] }, attachTo: document.body })
    await flushPromises()
    const input = wrapper.get('input[data-testid="audit-student-no"]')
    await input.setValue('2024020001')
    await input.trigger('change')
    await flushPromises()
    expect(urls.at(-1)).toContain('student_no=2024020001')
    expect(wrapper.text()).toContain('查看待我确认列表')
    expect(wrapper.findAll('.audit__covers')).toHaveLength(1)
    expect(wrapper.get('.audit__covers').text()).toMatch(/^至 .+ 再次显示不另记录$/)
  })
})
