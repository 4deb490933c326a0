// The page-wide view of waiting reports: how many, and sending them when the network returns.
import { defineStore } from 'pinia'
import { PendingReports, type PendingReport, type SendOutcome } from './pending'
import { sendReport } from './sender'

export const pendingReports = new PendingReports(sendReport)

export const usePending = defineStore('pending', {
  state: () => ({ items: [] as PendingReport[], online: navigator.onLine, lastSent: 0 }),
  actions: {
    async refresh(owner: string) {
      this.items = owner ? await pendingReports.list(owner) : []
    },
    async flush(owner: string): Promise<SendOutcome[]> {
      if (!owner) return []
      const outcomes = await pendingReports.flush(owner)
      this.lastSent += outcomes.filter((o) => o.kind === 'sent').length
      await this.refresh(owner)
      return outcomes
    },
    async discard(owner: string, key: string) {
      await pendingReports.remove(key)
      await this.refresh(owner)
    },
  },
})
