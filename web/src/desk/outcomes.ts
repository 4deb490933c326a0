// The stats service's answers (GET /api/stats/v1/outcomes/...), as its OpenAPI document types
// them (src/api/openapi/stats.ts): every figure a cell that may be hidden ("<5", "*") so no
// small group can be worked out.
import type { components } from '@/api/openapi/stats'
import type { Answered } from '@/api/types'
type Stats = Answered<components['schemas']>

export type Cell = Stats['CellOut']
export type Column = Stats['ColumnOut']
export type CrossRow = Stats['CrossRowOut']
export type Cross = Stats['CrossOut']
export type AnnualRow = Stats['AnnualRowOut']
export type Annual = Stats['AnnualOut']
/** How many cases measured a step (`count`, suppressed like any figure: "<5", "*") and its
 *  percentiles when shown. */
export type Percentiles = Pick<Stats['LegOut'], 'count' | 'shown' | 'seconds'>
export type CycleTimes = Stats['CycleTimesOut']
export type Escalations = Stats['EscalationsOut']
export type Trends = Stats['TrendsOut']

export type TimeUnit = 'seconds' | 'minutes' | 'hours' | 'days'
const UNIT_SECONDS: Record<TimeUnit, number> = { seconds: 1, minutes: 60, hours: 3600, days: 86400 }

/** The unit that reads best for durations up to `largest` seconds: a campus's steps take
 *  hours or days, the demo's take seconds, and in hours those drew as empty charts. */
export function unitFor(largest: number): TimeUnit {
  if (largest >= 3 * 86400) return 'days'
  if (largest >= 2 * 3600) return 'hours'
  if (largest >= 2 * 60) return 'minutes'
  return 'seconds'
}

/** Two significant figures below ten (a 0.04 s median is not a zero bar), whole numbers above. */
export function inUnit(seconds: number | undefined | null, unit: TimeUnit): number | null {
  if (seconds === undefined || seconds === null) return null
  const value = seconds / UNIT_SECONDS[unit]
  return value >= 10 ? Math.round(value) : Number(value.toPrecision(2))
}

/** The cycle-time bars: p50 and p90 per leg in one unit; a leg stats hides (fewer students
 *  than the threshold) is a gap, and named in `hidden` so the page can say why. */
export function cycleBars(legs: CycleTimes['legs']) {
  const shown = legs.filter((l) => l.shown)
  const unit = unitFor(Math.max(0, ...shown.flatMap((l) => [l.seconds.p50 ?? 0, l.seconds.p90 ?? 0])))
  return {
    unit,
    labels: legs.map((l) => l.label),
    p50: legs.map((l) => (l.shown ? inUnit(l.seconds.p50, unit) : null)),
    p90: legs.map((l) => (l.shown ? inUnit(l.seconds.p90, unit) : null)),
    hidden: legs.filter((l) => !l.shown).map((l) => l.label),
    empty: shown.length === 0,
  }
}

/** The monthly medians since the report, in one unit for the chart. */
export function medianLines(months: Trends['months'], legs: string[]) {
  const all = months.flatMap((m) => legs.map((l) => m.median_seconds_to[l] ?? 0))
  const unit = unitFor(Math.max(0, ...all))
  return {
    unit,
    lines: legs.map((l) => months.map((m) => inUnit(m.median_seconds_to[l], unit))),
    empty: all.every((s) => s === 0),
  }
}

/** Whether any figure of these tables is hidden ("<5" or "*"): the page then prints stats'
 *  legend right under them, not only under the annual table a phone has scrolled far past. */
export function anyHidden(...tables: Cross[]): boolean {
  return tables.some((table) =>
    [...table.rows, table.totals].some((row) => row.total.hidden || Object.values(row.cells).some((cell) => cell.hidden)),
  )
}

/** Chart values: a hidden cell is a gap, never a zero. */
export const plotted = (cell: Cell): number | null => (cell.hidden ? null : cell.value)

/** The cycle-time bars as an ECharts option. On a phone the six leg names (“研判预警→确认接手”)
 *  overlapped under the bars even rotated: there the bars lie down, one leg a row, its name
 *  whole beside it. `height` is what the chart needs (px). */
export function cycleChart(
  bars: ReturnType<typeof cycleBars>,
  names: [string, string],
  unitName: string,
  narrow: boolean,
) {
  const series = [bars.p50, bars.p90].map((data, i) => ({ name: names[i], type: 'bar', data }))
  const tooltip = { trigger: 'axis', confine: true }
  const legend = { data: names, top: 0 }
  if (narrow) {
    return {
      height: Math.max(300, 80 + bars.labels.length * 52),
      option: {
        tooltip,
        legend,
        grid: { left: 8, right: 24, top: 40, bottom: 8, containLabel: true },
        // The legs top to bottom in the order a case takes them.
        yAxis: { type: 'category', data: bars.labels, inverse: true, axisLabel: { interval: 0, width: 112, overflow: 'break' } },
        xAxis: { type: 'value', name: unitName, nameLocation: 'end', nameGap: 4, splitNumber: 3 },
        series,
      },
    }
  }
  return {
    height: 300,
    option: {
      tooltip,
      legend,
      grid: { left: 16, right: 16, top: 56, bottom: 8, containLabel: true },
      xAxis: { type: 'category', data: bars.labels, axisLabel: { interval: 0, rotate: 30 } },
      yAxis: { type: 'value', name: unitName },
      series,
    },
  }
}

/** A month axis: “2026-03” on a desk; on a phone “3月” (the year is the page's), every label
 *  ECharts can fit rather than all twelve on top of each other. */
export function monthAxis(months: string[], narrow: boolean, monthLabel: (m: number) => string) {
  return narrow
    ? { type: 'category', data: months, axisLabel: { hideOverlap: true, formatter: (m: string) => monthLabel(Number(m.slice(5))) } }
    : { type: 'category', data: months }
}
