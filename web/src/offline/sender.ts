// Sending one report to intake through the gateway, and what its answer means for the copy
// kept on the device.
import { api, ApiError, NetworkError } from '@/api/http'
import type { ReportBody } from '@/report/reportForm'
import type { SendOutcome } from './pending'

export async function sendReport(body: ReportBody, key: string): Promise<SendOutcome> {
  try {
    const { data } = await api.post<{ report_id: string }>('/api/intake/v1/reports', body, {
      headers: { 'Idempotency-Key': key },
    })
    return { kind: 'sent', reportId: data.report_id }
  } catch (error) {
    if (error instanceof NetworkError) return { kind: 'retry', reason: 'network' }
    if (error instanceof ApiError) {
      if (error.status === 401) return { kind: 'retry', reason: 'signed_out' }
      // 403 from the gateway's CSRF check means a stale page: a reload fixes it, keep it.
      if (error.status === 403) return { kind: 'retry', reason: 'unavailable', retryAfter: 0 }
      // Too many reports from this reporter lately: kept, and not sent again before Retry-After.
      if (error.status === 429) return { kind: 'retry', reason: 'limited', retryAfter: error.retryAfter }
      if (error.transient) return { kind: 'retry', reason: 'unavailable', retryAfter: error.retryAfter }
      return { kind: 'refused', code: error.code, detail: error.detail }
    }
    throw error
  }
}
