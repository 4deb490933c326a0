// A 422's errors by the field they name, in the words the service answered in the reader's
// language: notify's own checks name `field`; FastAPI's validation names `loc` (body, field).
import type { FieldError } from '@/api/http'

export function errorsByField(errors: FieldError[]): Record<string, string[]> {
  const out: Record<string, string[]> = {}
  for (const error of errors) {
    const field = error.field ?? (error.loc?.length ? String(error.loc.at(-1)) : undefined)
    if (!field || !error.message) continue
    ;(out[field] ??= []).push(error.message)
  }
  return out
}
