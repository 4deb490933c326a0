// The outcome charts after `make demo`: its steps take seconds, and most legs have fewer than
// five students. In hours the one shown leg drew as 0 and the others as nothing, with no word
// of why: the cycle-time chart looked broken.
import { describe, expect, it } from 'vitest'
import { anyHidden, cycleBars, cycleChart, inUnit, medianLines, monthAxis, unitFor, type Cell, type Cross, type CycleTimes, type Trends } from './outcomes'

const leg = (id: string, shown: boolean, p50 = 0, p90 = 0): CycleTimes['legs'][number] => ({
  id,
  label: id,
  start: id.split('__')[0] ?? id,
  end: id.split('__')[1] ?? id,
  count: shown ? { value: 40, display: '40', hidden: null } : { value: null, display: '<5', hidden: 'small' },
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
    return { month: m, found: {}, found_total: cell, relieved: cell, breaches: cell, median_seconds_to: { acknowledged: ack } }
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

// At 375 px the six leg names overlapped under the bars, rotated or not.
describe('the cycle-time chart on a phone', () => {
  const legs = ['上报→研判预警', '研判预警→确认接手', '确认接手→首次干预', '首次干预→转介回复', '转介回复→结案', '结案→结案后回访']
  const bars = cycleBars(legs.map((l, i) => ({ ...leg(l, i !== 3, 3600 * (i + 1), 7200 * (i + 1)), label: l })))
  it('lays the bars down, every leg a row with its whole name, in the order a case takes them', () => {
    const { option, height } = cycleChart(bars, ['中位数', '90 分位'], '小时', true)
    expect(option.yAxis).toMatchObject({ type: 'category', data: legs, inverse: true, axisLabel: { interval: 0 } })
    expect(option.xAxis).toMatchObject({ type: 'value', name: '小时' })
    expect(option.grid.containLabel).toBe(true)
    expect(height).toBeGreaterThanOrEqual(legs.length * 52)
    expect(option.series[0]?.data[3]).toBeNull() // the hidden leg stays a gap, not a zero
  })
  it('keeps standing bars on a desk, labels inside the chart', () => {
    const { option, height } = cycleChart(bars, ['中位数', '90 分位'], '小时', false)
    expect(option.xAxis).toMatchObject({ type: 'category', data: legs })
    expect(option.grid.containLabel).toBe(true)
    expect(height).toBe(300)
  })
})

describe('the month axis', () => {
  const months = Array.from({ length: 12 }, (_, i) => `2026-${String(i + 1).padStart(2, '0')}`)
  it('reads “3月” on a phone and drops labels that would overlap', () => {
    const axis = monthAxis(months, true, (m) => `${m}月`)
    expect(axis.data).toEqual(months)
    expect(axis.axisLabel?.hideOverlap).toBe(true)
    expect(axis.axisLabel?.formatter('2026-03')).toBe('3月')
  })
  it('keeps the full month on a desk', () => {
    expect(monthAxis(months, false, (m) => `${m}月`)).toEqual({ type: 'category', data: months })
  })
})

// The walk of 2026-12-07: the tier tables showed "*" and "<5" a phone's length below the only
// legend (under the annual table), so a reader met "*" with no word of what it means.
describe('the tier tables’ legend', () => {
  const shown = (n: number): Cell => ({ value: n, display: String(n), hidden: null })
  const table = (cell: Cell, total = shown(30)): Cross => ({
    rows_are: 'role',
    columns_are: 'severity',
    columns: [{ id: 'severe', label: '重度' }],
    rows: [{ id: 'residence_counselor', label: '公寓辅导员', cells: { severe: cell }, total }],
    totals: { id: 'total', label: '合计', cells: { severe: shown(30) }, total: shown(30) },
  })
  it('is printed when a cell or a total is hidden, and not when every figure shows', () => {
    expect(anyHidden(table(shown(30)), table(shown(12)))).toBe(false)
    expect(anyHidden(table(shown(30)), table({ value: null, display: '*', hidden: 'complementary' }))).toBe(true)
    expect(anyHidden(table(shown(30), { value: null, display: '<5', hidden: 'small' }))).toBe(true)
  })
})
