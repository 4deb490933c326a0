// Who may confirm an alert, as casework's `may_acknowledge` decides it (tests/.../test_guards):
// an alert that climbed past a counselor is the center's to stop.
import { describe, expect, it } from 'vitest'
import { mayAcknowledge, mayOverrideConsent } from './tiers'

describe('who may confirm an alert', () => {
  it('lets a counselor confirm their own tier’s alert, not one that climbed past them', () => {
    expect(mayAcknowledge('residence_counselor', 'residence_counselor')).toBe(true)
    expect(mayAcknowledge('residence_counselor', 'community_psych_teacher')).toBe(false)
    expect(mayAcknowledge('residence_counselor', 'college_leader')).toBe(false)
  })

  it('lets the center confirm every rung, the college leader’s past the ladder too', () => {
    for (const owner of ['residence_counselor', 'community_psych_teacher', 'counseling_center', 'college_leader'] as const)
      expect(mayAcknowledge('counseling_center', owner)).toBe(true)
  })

  it('lets no student, leader, admin or auditor confirm anything', () => {
    for (const role of ['dorm_leader', 'class_wellbeing_officer', 'college_leader', 'campus_admin', 'auditor'] as const)
      expect(mayAcknowledge(role, 'dorm_leader')).toBe(false)
  })

  it('lets tier 5+ override a student’s consent, not a counselor', () => {
    expect(mayOverrideConsent('residence_counselor')).toBe(false)
    expect(mayOverrideConsent('community_psych_teacher')).toBe(true)
    expect(mayOverrideConsent('counseling_center')).toBe(true)
  })
})
