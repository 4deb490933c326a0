// When the platform says "not now" (a 429 rate limit, a 503 with a dependency down): a report
// from a phone is said plainly NOT sent, kept on the phone and not sent again before the
// Retry-After, and the desk's live queue rests calmly and picks up by itself.
//
// The 429s are answered here, shaped as the gateway relays servicekit's `too_many_requests`
// (problem+json, `urn:shouwang:problem:rate_limited`, the wait in `Retry-After` and in the
// words; seen from a real reporter past the per-person burst): reaching the
// real limits would take twenty real reports (intake's per-reporter burst) or two hundred
// requests, and a wait of a second. The page's clock is the test's (`page.clock`), so the
// Retry-After passes when the test says so; it is long (minutes), so the real seconds the
// checks in between take on a loaded machine never carry the page past it early.
// The roster is imported here when no spec has done it yet, so this file passes run alone.
import { expect, test, type Route } from '@playwright/test'
import { accessible, context, ensureRoster, fillReport, pendingOnDevice, receiptCount, shot, signIn } from './support'

test.beforeAll(async ({ browser }) => ensureRoster(browser))

function tooMany(route: Route, what: string, seconds: number): Promise<void> {
  return route.fulfill({
    status: 429,
    contentType: 'application/problem+json',
    headers: { 'Retry-After': String(seconds) },
    body: JSON.stringify({
      type: 'urn:shouwang:problem:rate_limited',
      title: '请求过于频繁',
      status: 429,
      code: 'rate_limited',
      detail: `${what}过于频繁，请在 ${seconds} 秒后重试`,
    }),
  })
}

test('a report refused for now (429) is said NOT sent, kept, and sent once after Retry-After', async ({ browser }) => {
  const ctx = await context(browser, 'phone')
  const page = await ctx.newPage()
  await page.clock.install()
  await signIn(page, 'dorm')
  const before = await receiptCount(page)
  const keys: string[] = []
  let limited = true
  await page.route('**/api/intake/v1/reports', async (route) => {
    if (route.request().method() !== 'POST') return route.continue()
    keys.push(route.request().headers()['idempotency-key'] ?? '')
    return limited ? tooMany(route, '上报', 600) : route.continue()
  })

  await fillReport(page, '测试学生31', '和室友矛盾很大')
  await page.getByRole('button', { name: '提交上报' }).click()
  const held = page.getByTestId('report-held')
  await expect(held).toContainText('这条上报还没有发出')
  await expect(held).toContainText('你最近提交的上报较多')
  await expect(held).toContainText(/约 10 分钟后（\d\d:\d\d）会自动重新发送/)
  await expect(held).toContainText('马上拨打下面的电话（120 急救、110 报警、值班老师）')
  await expect(held.locator('a[href="tel:110"]')).toBeVisible()
  await expect(page.getByRole('button', { name: '立即发送' })).toBeDisabled()
  expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0)
  expect(await pendingOnDevice(page)).toBe(1)
  await shot(page, 'phone-report-limited')
  await accessible(page)

  // "My reports" (in another tab, so this page keeps its notice) lists it apart from the sent
  // ones, going at the time the notice said; opening it sends nothing.
  const at = /（(\d\d:\d\d)）/.exec((await held.textContent()) ?? '')?.[1]
  const mine = await ctx.newPage()
  await mine.goto('/report/receipts')
  await expect(mine.getByTestId('mine-device')).toContainText(`等待发送（约 ${at} 自动发送）`)
  expect(await mine.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0)
  await shot(mine, 'phone-my-reports-held')
  await accessible(mine)
  await mine.close()
  expect(keys).toHaveLength(1)

  // The network coming back and the page's 30-s retries send nothing before Retry-After.
  await ctx.setOffline(true)
  await ctx.setOffline(false)
  await page.clock.runFor(300_000)
  expect(keys).toHaveLength(1)

  limited = false
  await page.clock.runFor(310_000)
  await expect(page.getByText('之前保存的上报已经发出')).toBeVisible()
  expect(keys).toHaveLength(2)
  expect(keys[1]).toBe(keys[0])
  expect(await pendingOnDevice(page)).toBe(0)
  expect(await receiptCount(page)).toBe(before + 1)
})

test("the desk's live queue rests on a 429, calmly, and picks up by itself", async ({ browser }) => {
  const page = await (await context(browser, 'desk')).newPage()
  await page.clock.install()
  await signIn(page, 'teacher')
  await page.goto('/desk/queue')
  await expect(page.getByRole('heading', { name: '我的队列' })).toBeVisible()
  let limited = true
  let polls = 0
  await page.route(/\/api\/casework\/v1\/cases\?/, async (route) => {
    polls += 1
    return limited ? tooMany(route, '请求', 300) : route.continue()
  })

  await page.clock.runFor(15_000)
  const notice = page.getByTestId('live-notice')
  await expect(notice).toContainText('请求过于频繁，自动刷新已暂停')
  await expect(notice).toContainText(/下面显示的是 \d\d:\d\d:\d\d 的内容/)
  await expect(page.locator('.el-message--error')).toHaveCount(0)
  await shot(page, 'desk-queue-resting')
  await accessible(page)
  expect(polls).toBe(1)

  await page.clock.runFor(200_000) // within the Retry-After: not a request
  expect(polls).toBe(1)
  limited = false
  await page.clock.runFor(100_000)
  await expect(notice).toBeHidden()
  expect(polls).toBe(2)
  await expect(page.locator('.el-message--error')).toHaveCount(0)
})
