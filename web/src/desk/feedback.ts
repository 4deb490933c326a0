// Short confirmations and errors on the desk (Element Plus' message, its style imported here
// because function calls are not seen by the per-component import).
import { ElMessage } from 'element-plus'
import 'element-plus/es/components/message/style/css'
import { ApiError, NetworkError } from '@/api/http'
import { i18n } from '@/i18n'

export function done(message: string): void {
  ElMessage({ message, type: 'success', showClose: true })
}

/** What went wrong, in the reader's words: the service's problem detail, then what its fields
 *  say is wrong with each ("重度或危急个案须完成回访后方可结案：该个案尚无已完成的回访"). A field's
 *  message that only repeats the detail is said once (casework's refusals did so until each
 *  field got its own message; another service's still may). */
export function problemText(error: unknown): string {
  const t = i18n.global.t
  if (error instanceof ApiError) {
    const more = [...new Set(error.errors.map((e) => e.message))].filter((m) => m && m !== error.detail)
    return [error.detail, ...(more.length ? [more.join('；')] : [])].filter(Boolean).join('：') || t('errors.generic')
  }
  return error instanceof NetworkError ? t('errors.network') : t('errors.generic')
}

export function failed(error: unknown): void {
  ElMessage({ message: problemText(error), type: 'error', showClose: true, duration: 6000 })
}
