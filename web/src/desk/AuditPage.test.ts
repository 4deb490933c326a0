// An auditor asks who has seen one student: by 学号, and a live page's entry reads as what it
// stands for (its first showing, and until when showings wrote nothing more), in words; and who
// read that student's family's contacts (notify's trail), beside it.
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
const READS = [
  {
    id: 7,
    at: '2026-12-07T02:00:00Z',
    reader_ref: 'per_admin_0001',
    role: 'campus_admin',
    action: 'family.read',
    student_ref: 'stu_1',
    person_ref: null,
    contacts: 0,
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
      const items = url.includes('/api/notify/v1/contact-reads') ? READS : ENTRIES
      return new Response(JSON.stringify({ items, next_before_id: null }), {
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
  it("shows who read the same student's family contacts, an empty answer too, in the page's language", async () => {
    const wrapper = mount(AuditPage, { global: { plugins: [i18n] }, attachTo: document.body })
    await flushPromises()
    expect(urls.filter((u) => u.startsWith('/api/notify/v1/contact-reads'))).toHaveLength(1)
    const input = wrapper.get('input[data-testid="audit-student-no"]')
    await input.setValue('2024020001')
    await input.trigger('change')
    await flushPromises()
    const reads = urls.filter((u) => u.startsWith('/api/notify/v1/contact-reads'))
    expect(reads.at(-1)).toContain('student_no=2024020001')
    const section = wrapper.get('[data-testid="contact-reads"]')
    expect(section.text()).toContain('联系方式查看记录')
    expect(section.text()).toContain('查看家长联系方式')
    expect(section.text()).toContain('校区管理员')
    i18n.global.locale.value = 'en'
    await flushPromises()
    expect(section.text()).toContain('Read family contacts')
  })
})
