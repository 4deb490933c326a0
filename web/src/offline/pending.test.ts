import { beforeEach, describe, expect, it } from 'vitest'
import type { ReportBody } from '@/report/reportForm'
import { DEFAULT_WAIT_SECONDS, PendingReports, type SendOutcome } from './pending'

const BODY: ReportBody = {
  campus_id: 'demo',
  student_no: '2024020031',
  signals: ['hopelessness'],
  observed_at: '2026-12-06T21:30:00+08:00',
}
const OWNER = 'demo:2024020001'

/** A stand-in for intake: remembers every key it saw, answers like intake does. */
class FakeIntake {
  online = false
  refuse = false
  /** Answering 429 (`limited`) or 503 (`unavailable`) with this Retry-After (null: none). */
  busy: { reason: 'limited' | 'unavailable'; retryAfter: number | null } | null = null
  seen: string[] = []
  /** The channel of each report it was sent (absent: seen by the reporter). */
  channels: (string | undefined)[] = []
  accepted = new Map<string, string>()

  send = async (body: ReportBody, key: string): Promise<SendOutcome> => {
    if (!this.online) return { kind: 'retry', reason: 'network' }
    this.seen.push(key)
    this.channels.push(body.channel)
    if (this.busy) return { kind: 'retry', ...this.busy }
    if (this.refuse) return { kind: 'refused', code: 'validation_failed', detail: '学号格式不正确' }
    if (!this.accepted.has(key)) this.accepted.set(key, `report-${this.accepted.size + 1}`)
    return { kind: 'sent', reportId: this.accepted.get(key)! }
  }
}

let intake: FakeIntake
let queue: PendingReports
let db = 0
let clock: number

beforeEach(() => {
  intake = new FakeIntake()
  clock = Date.parse('2026-12-07T10:00:00Z')
  queue = new PendingReports(intake.send, `test-offline-${++db}`, () => clock)
})

describe('the offline queue', () => {
  it('keeps a report while the network is down and sends it once when it returns', async () => {
    const item = await queue.keep(OWNER, BODY)
    expect(await queue.send(item)).toEqual({ kind: 'retry', reason: 'network' })
    expect(await queue.list(OWNER)).toHaveLength(1)
    expect((await queue.list(OWNER))[0]!.attempts).toBe(1)

    intake.online = true
    expect(await queue.flush(OWNER)).toEqual([{ kind: 'sent', reportId: 'report-1' }])
    expect(await queue.list(OWNER)).toEqual([])
    expect(intake.accepted.size).toBe(1)
  })

  it('retries with the same Idempotency-Key every time, so intake counts it once', async () => {
    intake.online = true
    const item = await queue.keep(OWNER, BODY)
    // The answer is lost on the way back: intake has it, the phone does not know.
    const lossy = new PendingReports(async (body, key) => {
      await intake.send(body, key)
      return { kind: 'retry', reason: 'network' }
    }, `test-offline-${db}`)
    await lossy.send(item)
    await queue.flush(OWNER)
    expect(intake.seen).toEqual([item.key, item.key])
    expect(intake.accepted.size).toBe(1)
    expect(await queue.list(OWNER)).toEqual([])
  })

  it('never sends one report twice at once, however many flushes start together', async () => {
    intake.online = true
    await queue.keep(OWNER, BODY)
    await queue.keep(OWNER, { ...BODY, student_no: '2024020001' })
    await Promise.all([queue.flush(OWNER), queue.flush(OWNER), queue.flush(OWNER)])
    expect(intake.seen).toHaveLength(2)
    expect(new Set(intake.seen).size).toBe(2)
  })

  it('keeps how the reporter learned of it with a report held on the device, and sends it so', async () => {
    await queue.keep(OWNER, { ...BODY, channel: 'family_call' })
    await queue.flush(OWNER) // no network
    expect((await queue.list(OWNER))[0]!.body.channel).toBe('family_call')
    intake.online = true
    await queue.keep(OWNER, BODY) // one kept before the field: intake takes it as seen by the reporter
    expect((await queue.flush(OWNER)).map((o) => o.kind)).toEqual(['sent', 'sent'])
    expect(intake.channels).toEqual(['family_call', undefined])
  })

  it('keeps a refused report, marked, until the reporter discards it', async () => {
    intake.online = true
    intake.refuse = true
    const item = await queue.keep(OWNER, BODY)
    await queue.flush(OWNER)
    const [kept] = await queue.list(OWNER)
    expect(kept!.refused).toEqual({ code: 'validation_failed', detail: '学号格式不正确' })
    await queue.flush(OWNER) // a refused report is not sent again by itself
    expect(intake.seen).toEqual([item.key])
    await queue.remove(item.key)
    expect(await queue.list(OWNER)).toEqual([])
  })

  it("shows and sends only the reporter's own reports", async () => {
    intake.online = true
    await queue.keep('demo:someone-else', BODY)
    expect(await queue.list(OWNER)).toEqual([])
    expect(await queue.flush(OWNER)).toEqual([])
    expect(intake.seen).toEqual([])
  })

  it('stops at the first retry, keeping the order reports were made in', async () => {
    const first = await queue.keep(OWNER, BODY)
    await queue.keep(OWNER, { ...BODY, student_no: '2024020001' })
    const outcomes = await queue.flush(OWNER)
    expect(outcomes).toHaveLength(1)
    expect((await queue.list(OWNER)).map((p) => p.key)[0]).toBe(first.key)
  })

  it('does not send again before the Retry-After of a 429, nor drop the report', async () => {
    intake.online = true
    intake.busy = { reason: 'limited', retryAfter: 120 }
    const item = await queue.keep(OWNER, BODY)
    await queue.keep(OWNER, { ...BODY, student_no: '2024020001' })
    expect(await queue.flush(OWNER)).toEqual([{ kind: 'retry', reason: 'limited', retryAfter: 120 }])
    const [held] = await queue.list(OWNER)
    expect(held!.held).toEqual({ reason: 'limited', until: clock + 120_000 })

    intake.busy = null // intake would take it now, but it asked to wait: nothing is sent,
    clock += 119_000 // neither by a flush nor with a report made meanwhile
    expect(await queue.flush(OWNER)).toEqual([])
    const another = await queue.keep(OWNER, { ...BODY, student_no: '2024020002' })
    expect(await queue.send(another)).toEqual({ kind: 'retry', reason: 'limited', retryAfter: 1 })
    expect(intake.seen).toEqual([item.key])
    expect(await queue.list(OWNER)).toHaveLength(3)

    clock += 1_000
    expect((await queue.flush(OWNER)).map((o) => o.kind)).toEqual(['sent', 'sent', 'sent'])
    expect(intake.seen[1]).toBe(item.key)
    expect(intake.accepted.size).toBe(3)
    expect(await queue.list(OWNER)).toEqual([])
  })

  it('waits a while after a 503 without Retry-After, then sends with the same key', async () => {
    intake.online = true
    intake.busy = { reason: 'unavailable', retryAfter: null }
    const item = await queue.keep(OWNER, BODY)
    await queue.flush(OWNER)
    intake.busy = null
    expect(await queue.flush(OWNER)).toEqual([])
    clock += DEFAULT_WAIT_SECONDS.unavailable * 1000
    expect(await queue.flush(OWNER)).toEqual([{ kind: 'sent', reportId: 'report-1' }])
    expect(intake.seen).toEqual([item.key, item.key])
  })
})
