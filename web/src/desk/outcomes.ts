// The stats service's answers (GET /api/stats/v1/outcomes/...), as the outcomes page reads
// them: every figure a cell that may be hidden ("<5", "*") so no small group can be worked out.
export interface Cell {
  value: number | null
  display: string
  hidden: 'small' | 'complementary' | null
}

export interface Column {
  id: string
  label: string
}

export interface CrossRow {
  id: string
  label: string
  cells: Record<string, Cell>
  total: Cell
}

export interface Cross {
  rows_are: string
  columns_are: string
  columns: Column[]
  rows: CrossRow[]
  totals: CrossRow
}

interface Report {
  period: string
  threshold: number
  note: string
}

export interface AnnualRow {
  id: string
  label: string
  found: Record<string, Cell>
  found_total: Cell
  relieved: Cell
}

export interface Annual extends Report {
  by: string
  columns: Column[]
  rows: AnnualRow[]
  totals: AnnualRow
}

export interface Percentiles {
  count: number
  shown: boolean
  seconds: Record<string, number>
}

export interface CycleTimes extends Report {
  legs: (Percentiles & { id: string; label: string })[]
  since_report: (Percentiles & { milestone: string; label: string })[]
}

export interface Escalations extends Report {
  breaches: Cross
  escalations: Cross
}

export interface Trends extends Report {
  months: {
    month: string
    found_total: Cell
    relieved: Cell
    breaches: Cell
    median_seconds_to: Record<string, number | null>
  }[]
}

export const hours = (seconds: number | undefined | null): number | null =>
  seconds === undefined || seconds === null ? null : Math.round((seconds / 3600) * 10) / 10

/** Chart values: a hidden cell is a gap, never a zero. */
export const plotted = (cell: Cell): number | null => (cell.hidden ? null : cell.value)
