// The outcome charts after `make demo`: its steps take seconds, and most legs have fewer than
// five students. In hours the one shown leg drew as 0 and the others as nothing, with no word
// of why: the cycle-time chart looked broken.
import { describe, expect, it } from 'vitest'
import { cycleBars, inUnit, medianLines, unitFor, type CycleTimes, type Trends } from './outcomes'

const leg = (id: string, shown: boolean, p50 = 0, p90 = 0): CycleTimes['legs'][number] => ({
  id,
  label: id,
  count: shown ? 40 : 3,
  shown,
  seconds: shown ? { p50, p90 } : {},
})

describe('cycle-time bars', () => {
  it('draws the demo’s sub-second leg in seconds and names the hidden legs', () => {
    const bars = cycleBars([leg('reported__graded', true, 0.202, 0.204), leg('graded__acknowledged', false)])
    expect(bars.unit).toBe('seconds')
    expect(bars.p50).toEqual([0.2, null])
    expect(bars.p90).toEqual([0.2, null])
    expect(bars.hidden).toEqual(['graded__acknowledged'])
    expect(bars.empty).toBe(false)
  })
  it('keeps hours for a campus’s hours, days for its weeks', () => {
    expect(cycleBars([leg('a', true, 3 * 3600, 30 * 3600)]).unit).toBe('hours')
    expect(cycleBars([leg('a', true, 5 * 86400, 20 * 86400)]).unit).toBe('days')
    expect(unitFor(600)).toBe('minutes')
    expect(inUnit(5400, 'hours')).toBe(1.5)
    expect(inUnit(0.043, 'seconds')).toBe(0.043)
    expect(inUnit(37.4 * 3600, 'hours')).toBe(37)
  })
  it('says so when every leg is hidden', () => {
    expect(cycleBars([leg('a', false), leg('b', false)]).empty).toBe(true)
  })
})

describe('median lines', () => {
  const month = (m: string, ack: number | null): Trends['months'][number] => {
    const cell = { value: 0, display: '0', hidden: null }
    return { month: m, found_total: cell, relieved: cell, breaches: cell, median_seconds_to: { acknowledged: ack } }
  }
  it('picks one unit for every line, and gaps stay gaps', () => {
    const lines = medianLines([month('2026-11', null), month('2026-12', 90)], ['acknowledged', 'closed'])
    expect(lines.unit).toBe('seconds')
    expect(lines.lines).toEqual([
      [null, 90],
      [null, null],
    ])
    expect(lines.empty).toBe(false)
  })
  it('is empty with no median at all', () => {
    expect(medianLines([month('2026-12', null)], ['acknowledged']).empty).toBe(true)
  })
})
