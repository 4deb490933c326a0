import { describe, expect, it } from 'vitest'
import type { AwaitingAlert } from '@/api/types'
import { createI18n } from 'vue-i18n'
import en from '@/i18n/en'
import zhCN from '@/i18n/zh-CN'
import { clockSkew, orderAwaiting, waited } from './awaiting'

const words = (locale: 'zh-CN' | 'en') =>
  createI18n({ legacy: false, locale, messages: { 'zh-CN': zhCN, en } }).global.t

function alert(id: string, severity: AwaitingAlert['severity'], raised: string): AwaitingAlert {
  return {
    alert_id: id,
    case_id: `case-${id}`,
    student_ref: `ref-${id}`,
    severity,
    owner_role: 'residence_counselor',
    escalation_level: 0,
    raised_at: raised,
    waiting_seconds: 0,
    escalates_at: '2026-12-06T14:00:00Z',
    overdue: false,
  }
}

describe('what awaits my confirmation', () => {
  it('puts the gravest first, then the one waiting longest', () => {
    const ordered = orderAwaiting([
      alert('mild-old', 'mild', '2026-12-01T00:00:00Z'),
      alert('severe-new', 'severe', '2026-12-06T11:50:00Z'),
      alert('critical', 'critical', '2026-12-06T11:59:00Z'),
      alert('severe-old', 'severe', '2026-12-06T10:00:00Z'),
    ])
    expect(ordered.map((a) => a.alert_id)).toEqual(['critical', 'severe-old', 'severe-new', 'mild-old'])
  })

  it('counts the wait on the server clock, whatever the browser clock says', () => {
    const row = alert('a', 'moderate', '2026-12-06T10:55:00Z')
    const browser = Date.parse('2026-12-06T12:10:00Z') // ten minutes fast
    const skew = clockSkew('2026-12-06T12:00:00Z', browser)
    expect(waited(row, browser, skew, words('en'))).toBe('1 h 05 min')
    expect(waited(row, Date.parse('2026-12-06T10:00:00Z'), 0, words('en'))).toBe('under a minute') // never negative
  })

  it('says how long in Chinese on a zh-CN page', () => {
    // The page read "2 min" and "59 min 后上报" to a zh-CN counselor.
    const row = alert('a', 'moderate', '2026-12-06T10:55:00Z')
    expect(waited(row, Date.parse('2026-12-06T12:00:00Z'), 0, words('zh-CN'))).toBe('1 小时 05 分钟')
    expect(waited(row, Date.parse('2026-12-06T10:57:00Z'), 0, words('zh-CN'))).toBe('2 分钟')
  })
})
