// What a roster import did, or would do (a dry run), in words: the rows, and for a staff
// snapshot what it means for people and cases (casework's RosterImportOut.counts): who is
// taken off the roster, whose open cases go to who is responsible now, which cases nobody can
// take over (they show under 未分配 in the queue), which follow-ups are given to someone else.
// A dry run is where an admin learns this before it happens.

type Translate = (key: string, values?: Record<string, unknown>) => string

// The counts that change someone's work, in the order an admin should read them.
const EFFECTS = [
  ['cases_unowned', 'roster.effects.unowned'],
  ['cases_handed_over', 'roster.effects.handedOver'],
  ['follow_ups_handed_over', 'roster.effects.followUps'],
  ['people_unlisted', 'roster.effects.unlisted'],
] as const

export function importSummary(t: Translate, data: Record<string, unknown>, dryRun: boolean): string {
  const counts = (data.counts as Record<string, number> | undefined) ?? {}
  const rows = counts.rows ?? 0
  const head = dryRun ? t('roster.dryRunDone', { rows }) : t('roster.applied', { rows })
  const effects = EFFECTS.filter(([count]) => (counts[count] ?? 0) > 0).map(([count, key]) =>
    t(key, { n: counts[count] }),
  )
  if (effects.length === 0) return head
  const list = effects.join(t('roster.effects.separator'))
  return `${head}${t('roster.effects.stop')}${dryRun ? t('roster.effects.wouldDo', { list }) : t('roster.effects.did', { list })}`
}
