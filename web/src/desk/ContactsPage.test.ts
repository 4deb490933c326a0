// A campus admin uploads a contacts file notify imported before: the page posts it to notify's
// import route and shows notify's answer (nothing changed, since when, and what an old file
// does not restore), not "5 imported".
import { flushPromises, mount } from '@vue/test-utils'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { i18n } from '@/i18n'
import ContactsPage from './ContactsPage.vue'

const MESSAGE = '该文件已于 2026-12-07 09:00 导入过，本次未做任何更改。文件中有 1 名学生现在没有家属联系方式'
let requests: { url: string; method: string; language: string | null; body?: string }[]

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': status < 400 ? 'application/json' : 'application/problem+json' } })

/** notify as the page reads it: its imports list and family-message settings answer as they do on
 *  a fresh campus; an import answers `importAnswer`. */
function notify(importAnswer: () => Response, settings: (body: string) => Response = (body) => json(JSON.parse(body))) {
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string, init?: RequestInit) => {
      const method = init?.method ?? 'GET'
      requests.push({ url, method, language: new Headers(init?.headers).get('Accept-Language'), body: typeof init?.body === 'string' ? init.body : undefined })
      if (url.startsWith('/api/notify/v1/imports?') || url === '/api/notify/v1/imports') return json({ items: [] })
      if (url === '/api/notify/v1/settings/family-messages')
        return method === 'PUT' ? settings(String(init?.body)) : json({ counseling_line: null, sms_signature: null })
      return importAnswer()
    }),
  )
}

beforeEach(() => {
  i18n.global.locale.value = 'zh-CN'
  requests = []
  notify(() =>
    json({
      kind: 'family',
      import_id: 'i1',
      rows_total: 5,
      imported: 0,
      replayed: true,
      first_imported_at: '2026-12-07T01:00:00Z',
      students_without_contacts: 1,
      message: MESSAGE,
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
    const posted = requests.find((r) => r.method === 'POST')
    expect(posted?.url).toBe('/api/notify/v1/imports/family-contacts?dry_run=false')
    expect(posted?.language).toBe('zh-CN')
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
    notify(() => json(refusal, 422))
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
    notify(() => json(answer))
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

describe('a dry run before importing', () => {
  it('asks notify for a dry run, says nothing changed in notify’s words, and lists the run among past imports', async () => {
    const DRY = '试导入，未做任何更改：正式导入将导入 6 条联系人。'
    let listed: unknown[] = []
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string, init?: RequestInit) => {
        requests.push({ url, method: init?.method ?? 'GET', language: null })
        if (url === '/api/notify/v1/imports') return json({ items: listed })
        if (url.startsWith('/api/notify/v1/settings')) return json({ counseling_line: null, sms_signature: null })
        listed = [{ id: 'd1', kind: 'family', status: 'dry_run', counts: { rows_total: 6, imported: 6, warnings: 1, errors: 0, replayed: 0 }, errors: 0, imported_by: 'p_1', at: '2026-12-08T01:00:00Z' }]
        return json({ kind: 'family', import_id: 'd1', rows_total: 6, imported: 6, replayed: false, dry_run: true, roster_checked: true, warnings: [], message: DRY })
      }),
    )
    const wrapper = mount(ContactsPage, { global: { plugins: [i18n] }, attachTo: document.body })
    await flushPromises()
    await wrapper.findAll('input[type="radio"]')[1]!.setValue(true)
    await wrapper.get('input[type="checkbox"]').setValue(true)
    const input = wrapper.get('input[type="file"]')
    Object.defineProperty(input.element, 'files', { value: [new File(['学号,关系\n'], 'family.csv', { type: 'text/csv' })] })
    await input.trigger('change')
    await wrapper.get('[data-testid="import-upload"]').trigger('click')
    await flushPromises()
    expect(requests.find((r) => r.method === 'POST')?.url).toBe('/api/notify/v1/imports/family-contacts?dry_run=true')
    expect(wrapper.get('[role="status"]').text()).toBe(DRY)
    const cells = wrapper.get('[data-testid="import-history"]').findAll('.el-table__body td').map((c) => c.text())
    expect(cells.slice(1)).toEqual(['家长与监护人联系方式', '仅检查', '可导入 6 条联系方式；1 行学号或工号不在名册上'])
  })
})

describe('the family-message settings', () => {
  const mountFilled = async (line: string, signature: string) => {
    const wrapper = mount(ContactsPage, { global: { plugins: [i18n] }, attachTo: document.body })
    await flushPromises()
    await wrapper.get('input[name="counseling_line"]').setValue(line)
    await wrapper.get('input[name="sms_signature"]').setValue(signature)
    await wrapper.get('form.el-form').trigger('submit')
    await flushPromises()
    return wrapper
  }

  it('saves the counseling line and unsets an empty signature (null, not "")', async () => {
    const wrapper = await mountFilled(' 0571-88981234 ', '')
    const put = requests.filter((r) => r.method === 'PUT')
    expect(put).toHaveLength(1)
    expect(JSON.parse(put[0]!.body!)).toEqual({ counseling_line: '0571-88981234', sms_signature: null })
    expect(wrapper.get('.family-messages [role="status"]').text()).toContain('已保存')
  })

  it('shows each field notify refuses under that field, in notify’s words', async () => {
    const refusal = {
      code: 'family_messages_invalid',
      status: 422,
      detail: '家长消息设置未通过校验',
      errors: [
        { field: 'counseling_line', code: 'invalid_phone', message: '心理中心对外电话只能由数字和“-”组成' },
        { field: 'sms_signature', code: 'signature_brackets', message: '签名不要带【】' },
      ],
    }
    notify(() => json({}), () => json(refusal, 422))
    const wrapper = await mountFilled('心理中心', '【某大学】')
    const items = wrapper.findAll('.el-form-item')
    expect(items[0]!.get('[data-testid="field-error"]').text()).toBe('心理中心对外电话只能由数字和“-”组成')
    expect(items[1]!.get('[data-testid="field-error"]').text()).toBe('签名不要带【】')
    expect(wrapper.get('input[name="sms_signature"]').attributes('aria-invalid')).toBe('true')
    expect(wrapper.find('.family-messages [role="status"]').exists()).toBe(false)
  })
})
