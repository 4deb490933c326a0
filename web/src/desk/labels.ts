// Words for the ids services answer with (an audit action, an import's kind and result), so
// a zh-CN page never shows `student.card.read` or `applied`. An id newer than this app stays
// the id rather than nothing.
type Translate = (key: string, values?: Record<string, unknown>) => string
type Exists = (key: string) => boolean

export const auditActionKey = (action: string): string => `audit.actions.${action.replaceAll('.', '_')}`
export const importKindKey = (kind: string): string => `roster.kinds.${kind}`
export const importStatusKey = (status: string): string => `roster.statuses.${status}`

export function label(t: Translate, te: Exists, key: string, id: string): string {
  return te(key) ? t(key) : id
}

/** An audit action in words. casework records any refused read as the read's action with
 *  `.refused` after it (`case.read.refused`): without words of its own, it is the read's
 *  words marked as refused, not the raw id. */
export function auditAction(t: Translate, te: Exists, action: string): string {
  const own = auditActionKey(action)
  if (te(own)) return t(own)
  const read = action.endsWith('.refused') ? auditActionKey(action.slice(0, -'.refused'.length)) : null
  if (read && te(read)) return t('audit.refusedAction', { action: t(read) })
  return action
}
