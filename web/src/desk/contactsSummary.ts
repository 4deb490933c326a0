// What a contacts import did or would do (notify's ImportOut), and one past import's counts
// (ImportSummary.counts), in words. notify's own `message` comes first: it names a replay (since
// when, what an old file does not restore), the rows the roster does not know, or a dry run.
import type { ContactImport } from '@/api/types'

type Translate = (key: string, values?: Record<string, unknown>) => string

export function contactsImportSummary(t: Translate, data: Record<string, unknown>, dryRun: boolean): string {
  if (typeof data.message === 'string' && data.message) return data.message
  const n = Number(data.imported ?? 0)
  if (dryRun) return t('contacts.dryRunDone', { n })
  return data.replayed ? t('contacts.replayed') : t('contacts.imported', { n })
}

/** One past import's counts: refused rows for a refused file, else the contacts written (or, a
 *  dry run, that would be) and the rows the roster did not know. Imports recorded before notify
 *  counted more than `imported` show that alone. */
export function contactsImportCounts(t: Translate, item: Pick<ContactImport, 'status' | 'counts' | 'errors'>): string {
  if (item.status === 'rejected') return t('contacts.counts.errors', { n: item.errors || (item.counts.errors ?? 0) })
  if (item.counts.replayed) return t('contacts.counts.replayed')
  const n = item.counts.imported ?? 0
  const parts = [item.status === 'dry_run' ? t('contacts.counts.wouldImport', { n }) : t('contacts.counts.imported', { n })]
  if (item.counts.warnings) parts.push(t('contacts.counts.warnings', { n: item.counts.warnings }))
  return parts.join(t('roster.effects.separator'))
}
