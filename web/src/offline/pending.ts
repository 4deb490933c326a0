// Reports waiting on the device: kept in IndexedDB before the first attempt, sent with the
// same Idempotency-Key on every attempt (intake answers a repeat with the first answer, so a
// report is counted once however often it is retried), erased once intake has it.
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
  /** Set when intake refused it for a reason retrying cannot fix. */
  refused?: { code: string; detail: string }
}

export type SendOutcome =
  | { kind: 'sent'; reportId: string }
  | { kind: 'retry'; reason: 'network' | 'unavailable' | 'signed_out' }
  | { kind: 'refused'; code: string; detail: string }

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

  /** One attempt at one report: erased when intake has it, marked when it was refused. */
  async send(item: PendingReport): Promise<SendOutcome> {
    return this.serialised(() => this.attempt(item.key))
  }

  /** Try every waiting report of this reporter once, oldest first. */
  async flush(owner: string): Promise<SendOutcome[]> {
    return this.serialised(async () => {
      const outcomes: SendOutcome[] = []
      for (const item of await this.list(owner)) {
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
      await db.put(STORE, { ...item, attempts: item.attempts + 1, refused })
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
