// The ids casework answers with are shown in words in both languages: the audit log read
// `student.card.read` and the import history `staff` / `applied` on zh-CN pages.
import { describe, expect, it } from 'vitest'
import { createI18n } from 'vue-i18n'
import en from '@/i18n/en'
import zhCN from '@/i18n/zh-CN'
import { auditAction, auditActionKey, importKindKey, importStatusKey, label } from './labels'

// Every action casework's audit log records (services/casework: audit_read(...) and the
// break-the-glass rows), and the kinds and results of RosterImportSummary.
const ACTIONS = [
  'audit.read',
  'break_glass.open',
  'break_glass.review',
  'case.awaiting.read',
  'case.history.read',
  'case.notes.read',
  'case.plan.read',
  'case.queue.read',
  'case.read',
  'file.erase',
  'file.read',
  'file.read.refused',
  'roster.pick',
  'student.card.read',
  'student.pick.read',
]
const KEYS = [
  ...ACTIONS.map(auditActionKey),
  ...['students', 'staff'].map(importKindKey),
  ...['applied', 'dry_run', 'rejected'].map(importStatusKey),
]

describe.each([
  ['zh-CN', zhCN],
  ['en', en],
])('labels in %s', (locale, messages) => {
  const { global } = createI18n({ legacy: false, locale, messages: { [locale]: messages } })
  const words = (key: string, id: string) => label(global.t, global.te, key, id)

  it.each(KEYS)('%s has words', (key) => {
    expect(global.te(key)).toBe(true)
  })
  it('shows words, not the id', () => {
    expect(words(auditActionKey('student.card.read'), 'student.card.read')).not.toBe('student.card.read')
    expect(words(importStatusKey('applied'), 'applied')).not.toBe('applied')
  })
  it('keeps an id it has no words for', () => {
    expect(words(auditActionKey('case.newer.read'), 'case.newer.read')).toBe('case.newer.read')
    expect(auditAction(global.t, global.te, 'case.newer.read.refused')).toBe('case.newer.read.refused')
  })
  // casework audits every refused read as `<action>.refused` (http_common's ReadRefused): the
  // auditor read `case.read.refused` when a college leader opened a case of another college.
  it.each(ACTIONS.filter((a) => a.endsWith('.read')))('says in words that %s was refused', (action) => {
    const refused = auditAction(global.t, global.te, `${action}.refused`)
    expect(refused).not.toContain('.')
    expect(refused).toContain(global.t(auditActionKey(action)))
    expect(refused).toMatch(locale === 'en' ? /refused/ : /被拒绝/)
  })
})
