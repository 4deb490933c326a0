import { describe, expect, it } from 'vitest'
import type { CaseSummary } from '@/api/types'
import { createI18n } from 'vue-i18n'
import en from '@/i18n/en'
import zhCN from '@/i18n/zh-CN'
import { deadlinePhrase, formatMinutes, orderQueue, timeLeft, urgency, type DeadlineWords } from './queue'

const say = (locale: 'zh-CN' | 'en') =>
  createI18n({ legacy: false, locale, messages: { 'zh-CN': zhCN, en } }).global.t
const EN = say('en')

const NOW = Date.parse('2026-12-06T12:00:00Z')

function row(id: string, severity: CaseSummary['severity'], deadline: string | null, opened = '2026-12-01T00:00:00Z'): CaseSummary {
  return {
    case_id: id,
    student_ref: `ref-${id}`,
    state: 'open',
    severity,
    owner_ref: null,
    owner_role: 'counseling_center',
    opened_at: opened,
    updated_at: opened,
    deadline,
    unacknowledged_alerts: 1,
    missed_follow_ups: 0,
    version: 1,
  }
}

describe('the queue', () => {
  it('puts the most serious first, then the nearest deadline, then the oldest', () => {
    const ordered = orderQueue([
      row('mild-soon', 'mild', '2026-12-06T12:05:00Z'),
      row('severe-late', 'severe', '2026-12-06T14:00:00Z'),
      row('critical', 'critical', '2026-12-06T12:15:00Z'),
      row('severe-overdue', 'severe', '2026-12-06T11:00:00Z'),
      row('severe-none', 'severe', null),
      row('moderate-old', 'moderate', null, '2026-11-01T00:00:00Z'),
      row('moderate-new', 'moderate', null, '2026-12-05T00:00:00Z'),
    ])
    expect(ordered.map((c) => c.case_id)).toEqual([
      'critical',
      'severe-overdue',
      'severe-late',
      'severe-none',
      'moderate-old',
      'moderate-new',
      'mild-soon',
    ])
  })

  it('does not change the list it is given', () => {
    const cases = [row('a', 'mild', null), row('b', 'critical', null)]
    orderQueue(cases)
    expect(cases.map((c) => c.case_id)).toEqual(['a', 'b'])
  })

  it('tells the time left and how overdue, live', () => {
    expect(timeLeft('2026-12-06T12:14:59Z', NOW, EN)).toEqual({ overdue: false, minutes: 14, text: '14 min' })
    expect(timeLeft('2026-12-06T10:55:00Z', NOW, EN)).toEqual({ overdue: true, minutes: 65, text: '1 h 05 min' })
    expect(timeLeft(null, NOW, EN)).toBeNull()
    expect(formatMinutes(3 * 1440 + 125, EN)).toBe('3 d 2 h')
  })

  it('tells the time in Chinese words on a zh-CN page, never "min"', () => {
    const zh = say('zh-CN')
    expect(formatMinutes(14, zh)).toBe('14 分钟')
    expect(formatMinutes(65, zh)).toBe('1 小时 05 分钟')
    expect(formatMinutes(3 * 1440 + 125, zh)).toBe('3 天 2 小时')
    expect(timeLeft('2026-12-06T12:14:59Z', NOW, zh)?.text).not.toMatch(/[a-z]/)
  })

  it('says under a minute, and just overdue, in words instead of "剩 0 分钟" / "已超时 0 分钟"', () => {
    const words: DeadlineWords = { left: 'desk.left', overdue: 'desk.overdue', underMinute: 'desk.underMinute', justOverdue: 'desk.justOverdue' }
    const zh = say('zh-CN')
    const at = (deadline: string, s: typeof EN) => deadlinePhrase(timeLeft(deadline, NOW, s)!, s, words)
    expect(at('2026-12-06T12:00:59Z', zh)).toBe('不到1分钟')
    expect(at('2026-12-06T11:59:30Z', zh)).toBe('刚刚超时')
    expect(at('2026-12-06T12:01:00Z', zh)).toBe('剩 1 分钟')
    expect(at('2026-12-06T11:58:59Z', zh)).toBe('已超时 1 分钟')
    expect(at('2026-12-06T12:00:59Z', EN)).toBe('Under a minute left')
    expect(at('2026-12-06T11:59:30Z', EN)).toBe('Just overdue')
    expect(at('2026-12-06T10:55:00Z', EN)).toBe('Overdue by 1 h 05 min')
    // The escalation's words on 待我确认 read the same way.
    const escalation: DeadlineWords = { left: 'awaiting.escalatesIn', overdue: 'awaiting.escalating', underMinute: 'awaiting.escalatesSoon', justOverdue: 'awaiting.justEscalating' }
    expect(deadlinePhrase(timeLeft('2026-12-06T12:00:10Z', NOW, zh)!, zh, escalation)).toBe('不到1分钟后上报')
    expect(deadlinePhrase(timeLeft('2026-12-06T11:59:50Z', NOW, zh)!, zh, escalation)).toBe('刚刚超时，正在上报')
    // Elsewhere (how long an alert has waited) zero minutes is under a minute too.
    expect(formatMinutes(0, zh)).toBe('不到1分钟')
    expect(formatMinutes(0, EN)).toBe('under a minute')
  })

  it('colours by urgency: overdue, under an hour, under a day', () => {
    expect(urgency(timeLeft('2026-12-06T11:59:00Z', NOW, EN))).toBe('overdue')
    expect(urgency(timeLeft('2026-12-06T12:30:00Z', NOW, EN))).toBe('urgent')
    expect(urgency(timeLeft('2026-12-06T20:00:00Z', NOW, EN))).toBe('soon')
    expect(urgency(timeLeft('2026-12-09T12:00:00Z', NOW, EN))).toBe('calm')
    expect(urgency(null)).toBe('calm')
  })
})
