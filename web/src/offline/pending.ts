// Reports waiting on the device: kept in IndexedDB before the first attempt, sent with the
// same Idempotency-Key on every attempt (intake answers a repeat with the first answer, so a
// report is counted once however often it is retried), erased once intake has it.
//
// A report intake cannot take now (429: this reporter sent too many lately; 503: a dependency
// is down) stays kept with the time intake named in Retry-After, and nothing of that reporter
// is sent before then, by a flush or a new report: it would only be refused again, and a 429
// counts against the same limit.
//
// This is the only thing the web app stores in the browser besides the session cookie.
import { openDB, type DBSchema, type IDBPDatabase } from 'idb'
import type { ReportBody } from '@/report/reportForm'

export interface PendingReport {
  /** The Idempotency-Key, and the record's key. */
  key: string
  /** `campus:sub` of the reporter: only they see it and only their session sends it. */
  owner: string
  body: ReportBody
  createdAt: string
  /** Orders reports made within one millisecond as they were made. */
  seq: number
  attempts: number
  /** Intake asked to wait (429, 5xx): why, and until when (epoch ms, its Retry-After). */
  held?: { reason: RetryReason; until: number }
  /** Set when intake refused it for a reason retrying cannot fix. */
  refused?: { code: string; detail: string }
}

export type SendOutcome =
  | { kind: 'sent'; reportId: string }
  | { kind: 'retry'; reason: RetryReason; retryAfter?: number | null }
  | { kind: 'refused'; code: string; detail: string }

/** Why a report is still waiting: no network, too many reports (429), intake or a
 * dependency unavailable (5xx), or the session is gone. */
export type RetryReason = 'network' | 'limited' | 'unavailable' | 'signed_out'

/** How long to wait when intake gave no Retry-After. */
export const DEFAULT_WAIT_SECONDS: Record<RetryReason, number> = { network: 0, limited: 60, unavailable: 30, signed_out: 0 }

export type Sender = (body: ReportBody, key: string) => Promise<SendOutcome>

interface OfflineSchema extends DBSchema {
  reports: { key: string; value: PendingReport; indexes: { owner: string } }
}

const STORE = 'reports'
let made = 0

export class PendingReports {
  private db: Promise<IDBPDatabase<OfflineSchema>> | null = null
  // One flush at a time in this page; `navigator.locks` extends that to other tabs.
  private chain: Promise<unknown> = Promise.resolve()

  constructor(
    private readonly sender: Sender,
    private readonly dbName = 'shouwang-offline',
    private readonly clock: () => number = () => Date.now(),
  ) {}

  private open(): Promise<IDBPDatabase<OfflineSchema>> {
    this.db ??= openDB<OfflineSchema>(this.dbName, 1, {
      upgrade(db) {
        db.createObjectStore(STORE, { keyPath: 'key' }).createIndex('owner', 'owner')
      },
    })
    return this.db
  }

  /** Put a report on the device before anything is sent, under a fresh key. */
  async keep(owner: string, body: ReportBody): Promise<PendingReport> {
    const item: PendingReport = {
      key: crypto.randomUUID(),
      owner,
      body,
      createdAt: new Date().toISOString(),
      seq: Date.now() * 1000 + (made++ % 1000),
      attempts: 0,
    }
    await (await this.open()).put(STORE, item)
    return item
  }

  async list(owner: string): Promise<PendingReport[]> {
    const items = await (await this.open()).getAllFromIndex(STORE, 'owner', owner)
    return items.sort((a, b) => a.seq - b.seq)
  }

  async remove(key: string): Promise<void> {
    await (await this.open()).delete(STORE, key)
  }

  /** One attempt at one report: erased when intake has it, marked when it was refused; not
   * made while intake asked this reporter to wait. */
  async send(item: PendingReport): Promise<SendOutcome> {
    return this.serialised(async () => {
      const waiting = this.waiting(await this.list(item.owner))
      return waiting ?? this.attempt(item.key)
    })
  }

  /** The wait intake asked for and that has not passed yet, as the outcome to tell. */
  private waiting(items: PendingReport[]): SendOutcome | null {
    const now = this.clock()
    const held = items.filter((i) => !i.refused && i.held && i.held.until > now)
    if (!held.length) return null
    const last = held.reduce((a, b) => (a.held!.until >= b.held!.until ? a : b)).held!
    return { kind: 'retry', reason: last.reason, retryAfter: Math.ceil((last.until - now) / 1000) }
  }

  /** Try every waiting report of this reporter once, oldest first; none while intake asked
   * to wait (the limit is the reporter's, so the later ones would be refused too). */
  async flush(owner: string): Promise<SendOutcome[]> {
    return this.serialised(async () => {
      const outcomes: SendOutcome[] = []
      const items = await this.list(owner)
      if (this.waiting(items)) return outcomes
      for (const item of items) {
        if (item.refused) continue
        const outcome = await this.attempt(item.key)
        outcomes.push(outcome)
        if (outcome.kind === 'retry') break // the network or the session is gone: stop here
      }
      return outcomes
    })
  }

  private async attempt(key: string): Promise<SendOutcome> {
    const db = await this.open()
    const item = await db.get(STORE, key)
    // Sent meanwhile by another flush (another tab): intake has it, under an id we do not know.
    if (!item) return { kind: 'sent', reportId: '' }
    const outcome = await this.sender(item.body, item.key)
    if (outcome.kind === 'sent') {
      await db.delete(STORE, key)
    } else {
      const refused =
        outcome.kind === 'refused' ? { code: outcome.code, detail: outcome.detail } : undefined
      const wait =
        outcome.kind === 'retry' ? (outcome.retryAfter ?? DEFAULT_WAIT_SECONDS[outcome.reason]) : 0
      const held =
        outcome.kind === 'retry' && wait > 0
          ? { reason: outcome.reason, until: this.clock() + wait * 1000 }
          : undefined
      await db.put(STORE, { ...item, attempts: item.attempts + 1, refused, held })
    }
    return outcome
  }

  private serialised<T>(work: () => Promise<T>): Promise<T> {
    const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined
    const run = (): Promise<T> =>
      locks ? (locks.request('shouwang-pending-reports', work) as Promise<T>) : work()
    const next = this.chain.then(run, run)
    this.chain = next.catch(() => undefined)
    return next
  }
}
