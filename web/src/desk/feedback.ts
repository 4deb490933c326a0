// Short confirmations and errors on the desk (Element Plus' message, its style imported here
// because function calls are not seen by the per-component import).
import { ElMessage } from 'element-plus'
import 'element-plus/es/components/message/style/css'
import { ApiError, NetworkError } from '@/api/http'
import { i18n } from '@/i18n'

export function done(message: string): void {
  ElMessage({ message, type: 'success', showClose: true })
}

/** What went wrong, in the reader's words: the service's problem detail, or ours. */
export function problemText(error: unknown): string {
  const t = i18n.global.t
  return error instanceof ApiError
    ? error.detail + (error.errors.length ? `：${error.errors.map((e) => e.message).join('；')}` : '')
    : error instanceof NetworkError
      ? t('errors.network')
      : t('errors.generic')
}

export function failed(error: unknown): void {
  ElMessage({ message: problemText(error), type: 'error', showClose: true, duration: 6000 })
}
