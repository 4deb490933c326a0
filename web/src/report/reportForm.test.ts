import { describe, expect, it } from 'vitest'
import { emptyDraft, localInput, problems, studentNoKey, toBody, toggleSignal, withOffset } from './reportForm'

const NOW = new Date(2026, 11, 6, 21, 30)

describe('the report form', () => {
  it('asks for a student, a signal and a time that is not in the future', () => {
    const draft = emptyDraft(NOW)
    expect(problems(draft, NOW)).toEqual(['student', 'signals'])
    draft.student = { student_no: '2024020031', label: '测试学生31（8号楼202）' }
    draft.signals = ['hopelessness']
    expect(problems(draft, NOW)).toEqual([])
    draft.observedAt = localInput(new Date(NOW.getTime() + 60 * 60_000))
    expect(problems(draft, NOW)).toEqual(['observedAt'])
    draft.observedAt = 'not a time'
    expect(problems(draft, NOW)).toEqual(['observedAt'])
  })

  it('accepts a phone clock a few minutes ahead, as intake does', () => {
    const draft = { ...emptyDraft(NOW), student: { student_no: '1', label: '1' }, signals: ['hopelessness' as const] }
    draft.observedAt = localInput(new Date(NOW.getTime() + 3 * 60_000))
    expect(problems(draft, NOW)).toEqual([])
  })

  it('refuses a note over the limit', () => {
    const draft = { ...emptyDraft(NOW), student: { student_no: '1', label: '1' }, signals: ['hopelessness' as const] }
    draft.note = 'x'.repeat(4001)
    expect(problems(draft, NOW)).toEqual(['note'])
  })

  it('toggles signals on and off without repeating one', () => {
    let signals = toggleSignal([], 'sleep_disturbance')
    signals = toggleSignal(signals, 'hopelessness')
    signals = toggleSignal(signals, 'sleep_disturbance')
    expect(signals).toEqual(['hopelessness'])
  })

  it('builds the body intake takes: time with an offset, no empty fields, no label', () => {
    const draft = {
      ...emptyDraft(NOW),
      student: { student_no: '2024020031', label: '测试学生31（8号楼202）' },
      signals: ['hopelessness' as const, 'social_withdrawal' as const],
      note: '  最近总说活着没意思  ',
      location: ' ',
    }
    const body = toBody(draft, 'demo')
    expect(body).toEqual({
      campus_id: 'demo',
      student_no: '2024020031',
      signals: ['hopelessness', 'social_withdrawal'],
      observed_at: withOffset(localInput(NOW)),
      note: '最近总说活着没意思',
    })
    expect(body.observed_at).toMatch(/^2026-12-06T21:30:00[+-]\d\d:\d\d$/)
    expect(JSON.stringify(body)).not.toContain('测试学生31')
  })

  it('says how the reporter learned of it only when it was not seen or heard by them', () => {
    const draft = { ...emptyDraft(NOW), student: { student_no: '2024020031', label: '1' }, signals: ['hopelessness' as const] }
    expect(draft.channel).toBe('observed')
    expect(toBody(draft, 'demo')).not.toHaveProperty('channel')
    expect(toBody({ ...draft, channel: 'self_referral' }, 'demo').channel).toBe('self_referral')
  })

  it('sends a student’s own number as their request for help, whatever the radio says', () => {
    const draft = { ...emptyDraft(NOW), signals: ['hopelessness' as const] }
    draft.student = { student_no: '2024020001', label: '我自己（2024020001）', self: true }
    expect(toBody(draft, 'demo').channel).toBe('self_referral')
    draft.student = { student_no: '2024020031', label: '测试学生31' }
    expect(toBody(draft, 'demo').channel).toBeUndefined()
  })

  it('keys a student number as the roster does: full-width digits and stray spaces alike', () => {
    expect(studentNoKey(' ２０２４０２０００１ ')).toBe('2024020001')
  })
})
