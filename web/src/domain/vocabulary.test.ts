// The desk's rules read the vocabulary the contracts export (vocabulary.json), not copies: a
// changed vocabulary changes what the desk offers, the same way casework's answer changes.
import { describe, expect, it } from 'vitest'
import casework from '@/api/openapi/casework.json'
import { campusWide } from '@/api/session'
import type { User } from '@/api/types'
import { stepKind } from './loop'
import { mayAcknowledge, mayOverrideConsent } from './tiers'
import { VOCABULARY, type Vocabulary } from './vocabulary'

const changed = (change: (v: Vocabulary) => void): Vocabulary => {
  const copy = structuredClone(VOCABULARY)
  change(copy)
  return copy
}

const user = (role: User['role'], scope: string[] = []): User => ({
  sub: 'u1',
  role,
  role_label: role,
  campus_id: 'main',
  display_name: '测试',
  scope,
})

describe('the desk follows the exported vocabulary', () => {
  it('stops offering a consent override when casework raises the override tier', () => {
    expect(mayOverrideConsent('community_psych_teacher')).toBe(true)
    const raised = changed((v) => (v.casework.override_min_tier = 6))
    expect(mayOverrideConsent('community_psych_teacher', raised)).toBe(false)
    expect(mayOverrideConsent('counseling_center', raised)).toBe(true)
  })

  it('moves who may confirm an alert with acknowledged_from and the working tier', () => {
    expect(mayAcknowledge('residence_counselor', 'residence_counselor')).toBe(true)
    const climbed = changed((v) => (v.roles.residence_counselor!.acknowledged_from = 5))
    expect(mayAcknowledge('residence_counselor', 'residence_counselor', climbed)).toBe(false)
    expect(mayAcknowledge('community_psych_teacher', 'residence_counselor', climbed)).toBe(true)
    const lowered = changed((v) => (v.casework.work_min_tier = 3))
    expect(mayAcknowledge('class_wellbeing_officer', 'dorm_leader')).toBe(false)
    expect(mayAcknowledge('class_wellbeing_officer', 'dorm_leader', lowered)).toBe(true)
  })

  it('offers no confirmation of an owner the vocabulary does not know', () => {
    const unknown = changed((v) => delete v.roles.college_leader)
    expect(mayAcknowledge('counseling_center', 'college_leader')).toBe(true)
    expect(mayAcknowledge('counseling_center', 'college_leader', unknown)).toBe(false)
  })

  it('tells a relapse from a step forward by the contract’s loop order', () => {
    expect(stepKind('intervention', 'referred')).toBe('forward')
    const swapped = ['open', 'monitoring', 'referred', 'intervention', 'aftercare', 'follow_up', 'closed'] as const
    expect(stepKind('intervention', 'referred', swapped)).toBe('relapse')
  })

  it('reads who sees the whole campus from the rule’s inputs', () => {
    expect(campusWide(user('counseling_center'))).toBe(true)
    expect(campusWide(user('residence_counselor', ['campus']))).toBe(true)
    expect(campusWide(user('residence_counselor', ['building:8号楼']))).toBe(false)
    const narrower = changed((v) => {
      v.campus_wide.roles = ['campus_admin']
      v.campus_wide.grants = ['campus', 'building']
    })
    expect(campusWide(user('counseling_center'), narrower)).toBe(false)
    expect(campusWide(user('residence_counselor', ['building:8号楼']), narrower)).toBe(true)
  })

  it('knows every role casework’s document names, and its case states in their order', () => {
    const schemas = casework.components.schemas
    expect(Object.keys(VOCABULARY.roles).sort()).toEqual([...schemas.Role.enum].sort())
    expect(VOCABULARY.case_states).toEqual(schemas.CaseState.enum)
  })
})
