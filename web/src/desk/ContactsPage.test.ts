// A campus admin uploads a contacts file notify imported before: the page posts it to notify's
// import route and shows notify's answer (nothing changed, since when, and what an old file
// does not restore), not "5 imported".
import { flushPromises, mount } from '@vue/test-utils'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { i18n } from '@/i18n'
import ContactsPage from './ContactsPage.vue'

const MESSAGE = '该文件已于 2026-12-07 09:00 导入过，本次未做任何更改。文件中有 1 名学生现在没有家属联系方式'
let requests: { url: string; language: string | null }[]

beforeEach(() => {
  i18n.global.locale.value = 'zh-CN'
  requests = []
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string, init?: RequestInit) => {
      requests.push({ url, language: new Headers(init?.headers).get('Accept-Language') })
      const body = {
        kind: 'family',
        import_id: 'i1',
        rows_total: 5,
        imported: 0,
        replayed: true,
        first_imported_at: '2026-12-07T01:00:00Z',
        students_without_contacts: 1,
        message: MESSAGE,
      }
      return new Response(JSON.stringify(body), { status: 200, headers: { 'Content-Type': 'application/json' } })
    }),
  )
})
afterEach(() => {
  vi.unstubAllGlobals()
  document.body.innerHTML = ''
})

describe('the contacts page', () => {
  it('says a replayed family file changed nothing, in the words notify answers', async () => {
    const wrapper = mount(ContactsPage, { global: { plugins: [i18n] }, attachTo: document.body })
    await wrapper.findAll('input[type="radio"]')[1]!.setValue(true)
    const input = wrapper.get('input[type="file"]')
    const file = new File(['学号,关系\n'], 'family.csv', { type: 'text/csv' })
    Object.defineProperty(input.element, 'files', { value: [file] })
    await input.trigger('change')
    await wrapper.get('[data-testid="import-upload"]').trigger('click')
    await flushPromises()
    expect(requests.at(-1)?.url).toBe('/api/notify/v1/imports/family-contacts')
    expect(requests.at(-1)?.language).toBe('zh-CN')
    expect(wrapper.get('[role="status"]').text()).toBe(MESSAGE)
    expect(wrapper.text()).not.toContain('已导入 5 条')
  })
})

describe('a staff contacts file with errors', () => {
  it('names each refused row by number and by the column the file calls it, never notify’s field code', async () => {
    const refusal = {
      type: 'urn:shouwang:problem:import_rows_invalid',
      status: 422,
      code: 'import_rows_invalid',
      detail: '文件中有 2 处错误',
      errors: [
        { row: 2, field: 'preferred', code: 'invalid', message: '首选渠道无法识别（应为企业微信、钉钉、短信或邮件）' },
        { row: 2, field: 'quiet_hours', code: 'invalid', message: '免打扰时段无法识别（应如 23:00-07:00）' },
      ],
    }
    vi.stubGlobal('fetch', vi.fn(async () => new Response(JSON.stringify(refusal), { status: 422, headers: { 'Content-Type': 'application/problem+json' } })))
    const wrapper = mount(ContactsPage, { global: { plugins: [i18n] }, attachTo: document.body })
    const input = wrapper.get('input[type="file"]')
    Object.defineProperty(input.element, 'files', { value: [new File(['工号/学号\n'], 'staff.csv', { type: 'text/csv' })] })
    await input.trigger('change')
    await wrapper.get('[data-testid="import-upload"]').trigger('click')
    await flushPromises()
    const rows = wrapper.findAll('.el-table__body tr').map((r) => r.findAll('td').map((c) => c.text()))
    expect(rows).toEqual([
      ['2', '首选渠道', '首选渠道无法识别（应为企业微信、钉钉、短信或邮件）'],
      ['2', '免打扰时段', '免打扰时段无法识别（应如 23:00-07:00）'],
    ])
  })
})

describe('a first import with rows the roster does not know', () => {
  it('shows notify’s warning by row, not only how many were imported', async () => {
    const WARNED = '已导入 6 条联系人。第 6、7 行的学号不在本校学生名册上，请核对'
    const answer = { kind: 'family', import_id: 'i2', rows_total: 6, imported: 6, replayed: false, roster_checked: true,
      warnings: [{ row: 6, field: 'student_no', code: 'student_not_on_roster', message: '学号不在本校学生名册上' }], message: WARNED }
    vi.stubGlobal('fetch', vi.fn(async () => new Response(JSON.stringify(answer), { status: 200, headers: { 'Content-Type': 'application/json' } })))
    const wrapper = mount(ContactsPage, { global: { plugins: [i18n] }, attachTo: document.body })
    await wrapper.findAll('input[type="radio"]')[1]!.setValue(true)
    const input = wrapper.get('input[type="file"]')
    Object.defineProperty(input.element, 'files', { value: [new File(['学号,关系\n'], 'family.csv', { type: 'text/csv' })] })
    await input.trigger('change')
    await wrapper.get('[data-testid="import-upload"]').trigger('click')
    await flushPromises()
    expect(wrapper.get('[role="status"]').text()).toBe(WARNED)
  })
})
