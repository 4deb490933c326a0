import { beforeEach, describe, expect, it } from 'vitest'
import { i18n } from '@/i18n'
import { contactsImportCounts, contactsImportSummary } from './contactsSummary'
import { errorsByField } from './fieldErrors'

const t = (key: string, values?: Record<string, unknown>) => i18n.global.t(key, values ?? {})
beforeEach(() => {
  i18n.global.locale.value = 'zh-CN'
})
type Item = Parameters<typeof contactsImportCounts>[1]
const item = (status: Item['status'], counts: Record<string, number>, errors = 0): Item => ({ status, counts, errors })

describe('a past contacts import in words', () => {
  it('counts a refused file’s errors, not contacts it never wrote', () => {
    expect(contactsImportCounts(t, item('rejected', { rows_total: 9, errors: 3 }, 3))).toBe('3 处错误')
  })
  it('names rows the roster did not know beside the contacts written', () => {
    expect(contactsImportCounts(t, item('applied', { imported: 6, warnings: 2 }))).toBe('6 条联系方式；2 行学号或工号不在名册上')
  })
  it('says a dry run of a file imported before would change nothing', () => {
    expect(contactsImportCounts(t, item('dry_run', { imported: 0, replayed: 1 }))).toBe('与之前导入的文件相同')
    expect(contactsImportCounts(t, item('dry_run', { imported: 5 }))).toBe('可导入 5 条联系方式')
  })
  it('reads an import recorded before notify counted more than `imported`', () => {
    expect(contactsImportCounts(t, item('applied', { imported: 4 }))).toBe('4 条联系方式')
  })
})

describe('an import’s answer in words', () => {
  it('prefers notify’s message, else says what a dry run would do', () => {
    expect(contactsImportSummary(t, { message: '试导入：…' }, true)).toBe('试导入：…')
    expect(contactsImportSummary(t, { imported: 3 }, true)).toBe('检查完成，未做任何更改：正式导入将导入 3 条联系方式')
    expect(contactsImportSummary(t, { imported: 3 }, false)).toBe('已导入 3 条联系方式')
  })
})

describe('field errors', () => {
  it('groups a 422’s messages by field, from notify’s `field` or FastAPI’s `loc`', () => {
    expect(
      errorsByField([
        { field: 'sms_signature', message: 'a' },
        { field: 'sms_signature', message: 'b' },
        { loc: ['body', 'counseling_line'], message: 'c' },
        { row: 2, message: 'no field' },
      ]),
    ).toEqual({ sms_signature: ['a', 'b'], counseling_line: ['c'] })
  })
})
