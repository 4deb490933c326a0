// The network drops while a report is sent: it is kept on the phone, sent when the network
// returns with the same Idempotency-Key, counted once, and erased from the phone.
import { expect, test } from '@playwright/test'
import { context, ensureRoster, fillReport, pendingOnDevice, receiptCount, shot, signIn } from './support'

// The roster is imported here when no spec has done it yet, so this file passes run alone.
test.beforeAll(async ({ browser }) => ensureRoster(browser))

test('a report made offline is kept, then sent once when the network returns', async ({ browser }) => {
  const ctx = await context(browser, 'phone')
  const page = await ctx.newPage()
  await signIn(page, 'dorm')
  const before = await receiptCount(page)

  await fillReport(page, '测试学生31', '和室友矛盾很大')
  await ctx.setOffline(true)
  await page.getByRole('button', { name: '提交上报' }).click()
  await expect(page.getByText('已保存在本机')).toBeVisible()
  await expect(page.getByText('有 1 条上报等待发送')).toBeVisible()
  expect(await pendingOnDevice(page)).toBe(1)
  await shot(page, 'phone-report-offline')

  await ctx.setOffline(false)
  await expect(page.getByText('有 1 条上报等待发送')).toBeHidden({ timeout: 30_000 })
  expect(await pendingOnDevice(page)).toBe(0)
  expect(await receiptCount(page)).toBe(before + 1)
})

test('an answer lost on the way back is retried with the same key and counted once', async ({ browser }) => {
  const ctx = await context(browser, 'phone')
  const page = await ctx.newPage()
  await signIn(page, 'dorm')
  const before = await receiptCount(page)
  const keys: string[] = []
  let dropped = false
  await page.route('**/api/intake/v1/reports', async (route) => {
    keys.push(route.request().headers()['idempotency-key'] ?? '')
    if (dropped) return route.continue()
    dropped = true
    await route.fetch() // intake has it ...
    await route.abort('connectionreset') // ... but the phone never hears back
  })

  await fillReport(page, '测试学生31', '成绩明显下滑、旷课增多')
  await page.getByRole('button', { name: '提交上报' }).click()
  await expect(page.getByText('有 1 条上报等待发送')).toBeVisible()
  await page.getByRole('button', { name: '立即发送' }).click()
  await expect(page.getByText('有 1 条上报等待发送')).toBeHidden()
  expect(keys).toHaveLength(2)
  expect(keys[0]).toBe(keys[1])
  expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/)
  expect(await receiptCount(page)).toBe(before + 1)
  expect(await pendingOnDevice(page)).toBe(0)
})
