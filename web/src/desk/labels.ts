// Words for the ids services answer with (an audit action, an import's kind and result), so
// a zh-CN page never shows `student.card.read` or `applied`. An id newer than this app stays
// the id rather than nothing.
type Translate = (key: string) => string
type Exists = (key: string) => boolean

export const auditActionKey = (action: string): string => `audit.actions.${action.replaceAll('.', '_')}`
export const importKindKey = (kind: string): string => `roster.kinds.${kind}`
export const importStatusKey = (status: string): string => `roster.statuses.${status}`

export function label(t: Translate, te: Exists, key: string, id: string): string {
  return te(key) ? t(key) : id
}
