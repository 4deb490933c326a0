// Every page at phone and desk sizes (screenshots in test-results/screens), the report
// page's JavaScript budget, what the browser may keep, and a report made by keyboard alone.
// Files run in name order on one worker: loop.spec.ts has imported the roster by now.
import { expect, test, type Page } from '@playwright/test'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { SAMPLES, accessible, context, cutOff, shot, signIn, smallTargets } from './support'

const BUDGET = 200 * 1024

/** On a phone the desk's header is the brand over the pages (wrapping, every one in sight: a
 *  row scrolling sideways hid 成效统计 past the edge) with the account button beside them; who,
 *  language and sign out open under it. */
async function headerFits(page: Page): Promise<void> {
  const outside = await page.locator('.desk__nav a').evaluateAll((links) =>
    links.filter((a) => a.getBoundingClientRect().right > window.innerWidth).map((a) => a.textContent?.trim()),
  )
  expect(outside).toEqual([])
  expect(await page.locator('.desk__nav').evaluate((nav) => nav.scrollWidth <= nav.clientWidth)).toBe(true)
  const more = page.getByRole('button', { name: '账号、语言与退出' })
  await expect(more).toHaveAttribute('aria-expanded', 'false')
  await expect(page.getByRole('button', { name: '退出登录' })).toBeHidden()
  await more.click()
  await expect(more).toHaveAttribute('aria-expanded', 'true')
  await expect(page.getByRole('button', { name: '退出登录' })).toBeVisible()
  expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true)
  expect(await smallTargets(page)).toEqual([])
  await page.keyboard.press('Escape')
  await expect(more).toHaveAttribute('aria-expanded', 'false')
  await expect(more).toBeFocused()
}

/** Table headers whose text breaks over more than one line. */
async function wrappedHeaders(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    Array.from(document.querySelectorAll('#main th'))
      .filter((th) => {
        const range = document.createRange()
        range.selectNodeContents(th)
        const lines = new Set(Array.from(range.getClientRects()).map((r) => Math.round(r.top)))
        return lines.size > 1
      })
      .map((th) => (th.textContent ?? '').trim()),
  )
}

test('the report page loads under 200 KB of compressed JavaScript', async ({ browser }) => {
  const ctx = await context(browser, 'phone')
  const page = await ctx.newPage()
  await signIn(page, 'dorm')
  const scripts: { bytes: number; encoding: string }[] = []
  page.on('response', (response) => {
    if (response.request().resourceType() !== 'script') return
    const headers = response.headers()
    scripts.push({ bytes: Number(headers['content-length']), encoding: headers['content-encoding'] ?? '' })
  })
  await page.reload({ waitUntil: 'networkidle' })
  const total = scripts.reduce((sum, s) => sum + s.bytes, 0)
  // Only files too small to be worth it travel uncompressed.
  expect(scripts.filter((s) => !s.encoding && s.bytes > 1024)).toEqual([])
  console.warn(`report page: ${(total / 1024).toFixed(1)} KB of JavaScript over the wire`)
  expect(total).toBeGreaterThan(10_000)
  expect(total).toBeLessThan(BUDGET)
})

for (const kind of ['phone', 'desk'] as const) {
  test(`the public and reporting pages at ${kind} size`, async ({ browser }) => {
    const page = await (await context(browser, kind)).newPage()
    // Nothing asks for another origin (Vant's icon font named Alibaba's CDN; the CSP refused it).
    const refused: string[] = []
    page.on('console', (m) => m.type() === 'error' && /Content Security Policy/.test(m.text()) && refused.push(m.text()))
    await page.goto('/login')
    await shot(page, `${kind}-login`)
    await accessible(page)
    await page.getByRole('link', { name: /有人正处于危险中/ }).click()
    await expect(page.getByRole('link', { name: /13800000999/ })).toBeVisible()
    await expect(page.getByRole('link', { name: /拨打 120/ })).toHaveAttribute('href', 'tel:120')
    await shot(page, `${kind}-emergency`)
    await accessible(page)
    await page.getByRole('button', { name: 'English' }).click()
    await expect(page.getByRole('heading', { name: 'Someone is in danger now' })).toBeVisible()
    await shot(page, `${kind}-emergency-en`)

    await signIn(page, 'floor')
    // How the reporter learned of it, asked first: seen without scrolling, 亲眼所见 chosen, and
    // only what a floor leader can have used (no family call, no counseling session).
    const how = page.getByRole('radiogroup', { name: '你是怎么知道的' })
    await expect(how).toBeInViewport()
    await expect(how.getByRole('radio', { name: '亲眼所见' })).toBeChecked()
    await expect(how.getByRole('radio')).toHaveCount(2)
    await shot(page, `${kind}-report`)
    if (kind === 'phone') {
      // WCAG 2.2's 24 x 24 px, the picker's answers and the signals included.
      // (Students of the floor leader's floor, never the floor leader, 测试学生02, themself.)
      await page.getByLabel('输入学号或姓名').fill('学生')
      await expect(page.getByRole('button', { name: /测试学生\d\d/ }).first()).toBeVisible()
      await expect(page.getByRole('button', { name: /测试学生02/ })).toHaveCount(0)
      expect(await smallTargets(page)).toEqual([])
    }
    await page.goto('/report/receipts')
    await shot(page, `${kind}-my-reports`)
    await accessible(page)
    expect(refused).toEqual([])
  })

  test(`the workbench at ${kind} size`, async ({ browser }) => {
    const page = await (await context(browser, kind)).newPage()
    await signIn(page, 'center')
    await expect(page).toHaveURL(/\/desk\/awaiting/)
    await page.waitForLoadState('networkidle')
    await shot(page, `${kind}-awaiting`)
    if (kind === 'phone') await headerFits(page)
    await accessible(page)
    // On a phone the list's 确认接手 sat at x = 836 of 375: every button in reach.
    expect(await cutOff(page)).toEqual([])
    await page.getByRole('link', { name: '我的队列' }).click()
    await page.getByRole('radio', { name: '我范围内的' }).check({ force: true })
    await page.waitForLoadState('networkidle')
    await expect(page.getByRole('radio', { name: '我范围内的' })).toBeChecked()
    await page.mouse.move(0, 0)
    await shot(page, `${kind}-queue`)
    await accessible(page)
    expect(await cutOff(page)).toEqual([])
    // A counselor opens a case from a message on a phone: no control may be cut off at the
    // right (the note box and the plan's row were, at 375 px).
    await page.getByRole('button', { name: '查看' }).first().click()
    await expect(page.getByTestId('case-state')).toBeVisible()
    await shot(page, `${kind}-case`)
    expect(await cutOff(page)).toEqual([])
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true)
    if (kind === 'phone') {
      expect(await smallTargets(page)).toEqual([])
      // In English too: the plan's "Description" header broke mid-word (Descrip/tion).
      await page.getByRole('button', { name: '账号、语言与退出' }).click()
      await page.getByRole('button', { name: 'English' }).click()
      await expect(page.getByRole('heading', { name: 'Support plan' })).toBeVisible()
      expect(await wrappedHeaders(page)).toEqual([])
      expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true)
      await shot(page, 'phone-case-en')
      await page.getByRole('button', { name: '中文' }).click() // the account's panel stays open
      await expect(page.getByRole('heading', { name: '帮扶计划（策）' })).toBeVisible()
    }
    // And the student's file from there, as a counselor checks it at night on a phone.
    await page.getByRole('link', { name: '学生档案' }).click()
    await expect(page.getByTestId('file-who')).toBeVisible()
    await shot(page, `${kind}-student-file`)
    await accessible(page)
    expect(await cutOff(page)).toEqual([])
    // Its case link was 19 px tall.
    if (kind === 'phone') expect(await smallTargets(page)).toEqual([])
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true)
    await page.goto('/desk/outcomes')
    await expect(page.getByTestId('annual-table')).toBeVisible()
    await page.waitForLoadState('networkidle')
    await shot(page, `${kind}-outcomes`)
    // At 375 px the header cells wrapped a character to a line (重/度) and the leg names
    // overlapped under the bars: tables now scroll inside their card, a header on one line.
    expect(await wrappedHeaders(page)).toEqual([])
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true)
    expect(await cutOff(page)).toEqual([])
  })
}

test('the browser keeps nothing but the HTTP-only session cookie', async ({ browser }) => {
  const ctx = await context(browser, 'phone')
  const page = await ctx.newPage()
  await signIn(page, 'dorm')
  await page.goto('/report/receipts')
  // Nothing but vue-router's scroll positions, which end with the tab.
  const storage = await page.evaluate(() => ({
    local: Object.keys(localStorage),
    session: Object.keys(sessionStorage),
    text: JSON.stringify(sessionStorage),
  }))
  expect(storage.local).toEqual([])
  expect(storage.session.filter((k) => k !== 'vue-router:scroll')).toEqual([])
  expect(storage.text).not.toMatch(/2024\d{6}|测试学生/)
  const cookies = await ctx.cookies()
  expect(cookies.map((c) => [c.name, c.httpOnly, c.secure, c.sameSite])).toEqual([
    ['__Host-shouwang-session', true, true, 'Strict'],
  ])
  expect(await page.evaluate(() => document.cookie)).toBe('')
  expect(await page.evaluate(async () => (await fetch('/api/intake/v1/reports')).status)).toBe(200)
  // Signing out ends the session on the server too.
  await page.evaluate(async () => {
    const session = await (await fetch('/auth/session')).json()
    await fetch('/auth/logout', { method: 'POST', headers: { 'X-CSRF-Token': session.csrf_token } })
  })
  expect(await page.evaluate(async () => (await fetch('/api/intake/v1/reports')).status)).toBe(401)
})

test('an auditor reads the audit log, where every file read of the loop shows', async ({ browser }) => {
  const page = await (await context(browser, 'desk')).newPage()
  await signIn(page, 'auditor')
  await expect(page).toHaveURL(/\/desk\/audit/)
  // In words: the log once read `roster.pick`, `student.card.read`.
  await expect(page.getByRole('cell', { name: '上报时查找学生' }).first()).toBeVisible()
  await expect(page.getByRole('cell', { name: /^[a-z_]+(\.[a-z_]+)+$/ })).toHaveCount(0)
  await shot(page, 'desk-audit')
  await accessible(page)
})

test('a campus admin dry-runs a contacts file, imports it, finds it among past imports, and sets the line families call back', async ({ browser }) => {
  const page = await (await context(browser, 'desk')).newPage()
  await signIn(page, 'admin')
  await page.getByRole('link', { name: '联系方式导入' }).click()
  const family = readFileSync(resolve(SAMPLES, 'contacts_family.csv'))
  const history = page.getByTestId('import-history')
  const familyRows = history.getByRole('row', { name: /家长与监护人联系方式/ })
  await expect(history).toBeVisible()
  const before = await familyRows.filter({ hasText: '已导入' }).count()

  await page.getByRole('radio', { name: '家长与监护人联系方式' }).check({ force: true })
  await page.getByLabel('选择 CSV 或 XLSX 文件').setInputFiles({ name: 'contacts_family.csv', mimeType: 'text/csv', buffer: family })
  const dryRun = page.getByRole('checkbox', { name: '只检查，不导入' })
  await page.locator('.el-checkbox', { hasText: '只检查，不导入' }).click()
  await expect(dryRun).toBeChecked()
  await page.getByTestId('import-upload').click()
  await expect(page.getByRole('status')).toContainText('未做任何更改')
  // The dry run is listed as one, and nothing was imported.
  await expect(familyRows.first()).toContainText('仅检查')
  expect(await familyRows.filter({ hasText: '已导入' }).count()).toBe(before)

  await page.locator('.el-checkbox', { hasText: '只检查，不导入' }).click()
  await expect(dryRun).not.toBeChecked()
  await page.getByTestId('import-upload').click()
  await expect(page.getByRole('status')).toContainText(/^已导入 \d+ 条/)
  await expect(familyRows.first()).toContainText('已导入')
  await expect(familyRows.filter({ hasText: '已导入' })).toHaveCount(before + 1)
  await shot(page, 'desk-contacts')
  await accessible(page)

  // The counseling line: a wrong one is refused under its field, in words; a right one is kept.
  const line = page.getByRole('textbox', { name: '心理中心对外电话' })
  await line.fill('心理中心')
  await page.getByTestId('family-messages-save').click()
  await expect(page.getByTestId('field-error')).toContainText('只能由数字和“-”组成')
  await expect(line).toHaveAttribute('aria-invalid', 'true')
  await line.fill('0571-88981234')
  await page.getByTestId('family-messages-save').click()
  await expect(page.getByText('已保存')).toBeVisible()
  await expect(page.getByTestId('field-error')).toHaveCount(0)
  await page.reload()
  await expect(page.getByRole('textbox', { name: '心理中心对外电话' })).toHaveValue('0571-88981234')
})

test('the contacts page fits a phone', async ({ browser }) => {
  const page = await (await context(browser, 'phone')).newPage()
  await signIn(page, 'admin')
  await page.goto('/desk/contacts')
  // Each import a line of its own (the test above imported one), its counts in sight.
  await expect(page.getByTestId('import-history').getByRole('listitem').first()).toContainText(/已导入\s*\d+ 条联系方式/)
  await expect(page.getByRole('textbox', { name: '短信签名' })).toBeVisible()
  expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true)
  expect(await cutOff(page)).toEqual([])
  expect(await smallTargets(page)).toEqual([])
  await shot(page, 'phone-contacts')
  await accessible(page)
})

test('a report can be made with the keyboard alone, in English', async ({ browser }) => {
  const page = await (await context(browser, 'desk')).newPage()
  await signIn(page, 'officer')
  await page.getByRole('button', { name: 'English' }).click()
  const tabTo = async (name: string | RegExp, role: 'button' | 'textbox' | 'searchbox' | 'radio' = 'button') => {
    const target = page.getByRole(role, { name }).first()
    for (let i = 0; i < 80; i++) {
      if (await target.evaluate((el) => el === document.activeElement)) return
      await page.keyboard.press('Tab')
    }
    throw new Error(`Tab never reached ${String(name)}`)
  }
  // How they learned of it: one tab stop, the arrow keys move the choice.
  await tabTo('Observed by the reporter', 'radio')
  await page.keyboard.press('ArrowRight')
  await expect(page.getByRole('radio', { name: 'The student asked for help' })).toBeChecked()
  await expect(page.getByText('Asking for help is a good sign')).toBeVisible()
  await page.keyboard.press('ArrowLeft') // and back: the rest of the report goes as before
  await expect(page.getByRole('radio', { name: 'Observed by the reporter' })).toBeChecked()
  await tabTo('Student number or name', 'searchbox')
  await page.keyboard.type('学生06')
  await tabTo(/测试学生06/)
  await page.keyboard.press('Enter')
  await tabTo('Grades falling, missing classes')
  await page.keyboard.press('Space')
  await expect(page.getByRole('button', { name: 'Grades falling, missing classes' })).toHaveAttribute('aria-pressed', 'true')
  await tabTo('Send report')
  await page.keyboard.press('Enter')
  await expect(page).toHaveURL(/\/report\/receipts\//)
  await expect(page.getByTestId('receipt-status')).toHaveText(/Received|Being handled/)
  await shot(page, 'desk-receipt-en')
})
