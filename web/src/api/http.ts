// One way to talk to the gateway: same origin, the session cookie, the CSRF token on every
// write, the reader's language, and problem+json errors turned into ApiError.
import { currentLocale } from '@/i18n'

export interface FieldError {
  field?: string
  row?: number
  code?: string
  message?: string
  type?: string
  loc?: (string | number)[]
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly errors: FieldError[] = [],
    readonly retryAfter: number | null = null,
  ) {
    super(detail || code)
  }

  /** Worth sending again later: the service or the gateway could not take it now. */
  get transient(): boolean {
    return this.status >= 500 || this.status === 429 || this.status === 408
  }
}

/** No answer at all: the network is down or the gateway unreachable. */
export class NetworkError extends Error {}

let csrfToken: string | null = null
const unauthorizedListeners: (() => void)[] = []

export function setCsrfToken(token: string | null): void {
  csrfToken = token
}

export function onUnauthorized(listener: () => void): void {
  unauthorizedListeners.push(listener)
}

export interface RequestOptions {
  json?: unknown
  form?: FormData
  headers?: Record<string, string>
  signal?: AbortSignal
}

export interface Answer<T> {
  status: number
  data: T
  headers: Headers
}

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

export async function request<T>(
  method: string,
  path: string,
  options: RequestOptions = {},
): Promise<Answer<T>> {
  const headers: Record<string, string> = {
    Accept: 'application/json',
    'Accept-Language': currentLocale(),
    ...options.headers,
  }
  let body: BodyInit | undefined
  if (options.json !== undefined) {
    headers['Content-Type'] = 'application/json'
    body = JSON.stringify(options.json)
  } else if (options.form) {
    body = options.form
  }
  if (WRITES.has(method) && csrfToken) headers['X-CSRF-Token'] = csrfToken
  let response: Response
  try {
    response = await fetch(path, {
      method,
      headers,
      body,
      credentials: 'same-origin',
      cache: 'no-store',
      signal: options.signal,
    })
  } catch (error) {
    if (error instanceof DOMException && error.name === 'AbortError') throw error
    throw new NetworkError(String(error))
  }
  const text = await response.text()
  const data = text ? safeJson(text) : null
  if (!response.ok) {
    const problem = (data ?? {}) as Record<string, unknown>
    if (response.status === 401) unauthorizedListeners.forEach((listener) => listener())
    const retryAfter = retryAfterSeconds(response.headers.get('Retry-After'))
    throw new ApiError(
      response.status,
      String(problem.code ?? 'http_' + response.status),
      String(problem.detail ?? problem.title ?? response.statusText),
      Array.isArray(problem.errors) ? (problem.errors as FieldError[]) : [],
      retryAfter,
    )
  }
  return { status: response.status, data: data as T, headers: response.headers }
}

/** `Retry-After` in whole seconds from now: delta-seconds or an HTTP date; null if absent. */
export function retryAfterSeconds(value: string | null, now = Date.now()): number | null {
  if (!value?.trim()) return null
  if (/^\d+$/.test(value.trim())) return Number(value.trim())
  const at = Date.parse(value)
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - now) / 1000))
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return { detail: text.slice(0, 200) }
  }
}

export const api = {
  get: <T>(path: string, options?: RequestOptions) => request<T>('GET', path, options),
  post: <T>(path: string, json?: unknown, options?: RequestOptions) =>
    request<T>('POST', path, { ...options, json }),
  put: <T>(path: string, json?: unknown) => request<T>('PUT', path, { json }),
  patch: <T>(path: string, json?: unknown) => request<T>('PATCH', path, { json }),
  upload: <T>(path: string, form: FormData) => request<T>('POST', path, { form }),
}
