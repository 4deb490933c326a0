import { describe, expect, it } from 'vitest'
import { stepKind } from './loop'

describe('a step of the loop', () => {
  it('is forward, a relapse, or a reopening', () => {
    expect(stepKind('open', 'intervention')).toBe('forward')
    expect(stepKind('aftercare', 'monitoring')).toBe('relapse')
    expect(stepKind('follow_up', 'intervention')).toBe('relapse')
    expect(stepKind('closed', 'monitoring')).toBe('reopen')
  })
})
