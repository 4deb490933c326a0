// What the browser tests share: the platform's address and demo accounts, phone and desk
// contexts, signing in through the page, screenshots, and axe.
import AxeBuilder from '@axe-core/playwright'
import { expect, type Browser, type BrowserContext, type Page } from '@playwright/test'
import { mkdirSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { STATE_FILE, type PlatformState } from './platform'

export const SCREENS = resolve(import.meta.dirname, '..', 'test-results', 'screens')
export const SAMPLES = resolve(import.meta.dirname, '..', '..', 'samples')

export function platform(): PlatformState {
  return JSON.parse(readFileSync(STATE_FILE, 'utf-8')) as PlatformState
}

export const PHONE = { viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 }
export const DESK = { viewport: { width: 1366, height: 900 } }

export async function context(browser: Browser, kind: 'phone' | 'desk'): Promise<BrowserContext> {
  return browser.newContext({ ...(kind === 'phone' ? PHONE : DESK), baseURL: platform().baseURL })
}

export async function signIn(page: Page, username: string): Promise<void> {
  const account = platform().accounts[username]
  if (!account) throw new Error(`no demo account ${username}`)
  await page.goto('/login')
  await page.getByLabel('用户名').fill(account.username)
  await page.getByLabel('密码').fill(account.password)
  await page.getByRole('button', { name: '登录', exact: true }).click()
  await expect(page).not.toHaveURL(/\/login/)
}

/** The campus's roster (students, staff and their scopes), imported once by the campus admin
 *  through the API when no import of it has been applied yet: each spec that needs the roster
 *  calls this, so it passes run alone as well as after loop.spec.ts (which imports it through
 *  the page and checks what that says). Idempotent: a second call imports nothing. */
export async function ensureRoster(browser: Browser): Promise<void> {
  const ctx = await context(browser, 'desk')
  try {
    const page = await ctx.newPage()
    await signIn(page, 'admin')
    const files = {
      students: readFileSync(resolve(SAMPLES, 'roster_students.csv'), 'utf-8'),
      staff: readFileSync(resolve(SAMPLES, 'roster_staff.csv'), 'utf-8'),
    }
    const failures = await page.evaluate(async (files) => {
      const session = (await (await fetch('/auth/session')).json()) as { csrf_token: string }
      const listed = await fetch('/api/casework/v1/roster/imports')
      const { items } = (await listed.json()) as { items: { kind: string; status: string }[] }
      const problems: string[] = []
      // Students first: the staff's scopes name their dorms and classes.
      for (const kind of ['students', 'staff'] as const) {
        if (items.some((i) => i.kind === kind && i.status === 'applied')) continue
        const form = new FormData()
        form.append('file', new Blob([files[kind]], { type: 'text/csv' }), `roster_${kind}.csv`)
        const answer = await fetch(`/api/casework/v1/roster/${kind}?dry_run=false`, {
          method: 'POST',
          headers: { 'X-CSRF-Token': session.csrf_token },
          body: form,
        })
        if (!answer.ok) problems.push(`${kind}: ${answer.status} ${await answer.text()}`)
      }
      return problems
    }, files)
    expect(failures).toEqual([])
  } finally {
    await ctx.close()
  }
}

export async function shot(page: Page, name: string): Promise<void> {
  // Pages are lazy routes: wait until the page's content is there, and fonts are in.
  await page.locator('#main h1, #main h2').first().waitFor()
  await page.evaluate(() => document.fonts.ready)
  mkdirSync(SCREENS, { recursive: true })
  await page.screenshot({ path: resolve(SCREENS, `${name}.png`), fullPage: true })
}

/** axe-core finds no serious or critical issue on the page as it stands. */
export async function accessible(page: Page): Promise<void> {
  // Judge the page at rest. A toast (ElMessage) is transient: it closes by itself after 3 s
  // (6 s for an error), and one that starts fading while axe reads its colours has, for a
  // moment, the contrast of its opacity (CI caught it twice: once mid-fade-in, once starting
  // to fade out during the analysis). So wait for toasts to be gone, then for any finite
  // animation left; endless ones (spinners) are not waited for.
  await expect(page.locator('.el-message')).toHaveCount(0, { timeout: 15_000 })
  await page.evaluate(() =>
    Promise.all(
      document
        .getAnimations()
        .filter((a) => a.effect?.getTiming().iterations !== Infinity)
        .map((a) => a.finished.catch(() => undefined)),
    ).then(() => undefined),
  )
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze()
  const serious = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
  expect(
    serious.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')})`),
  ).toEqual([])
}

/** The page's controls that reach past the window's right edge (clipped, out of reach). */
export async function cutOff(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    Array.from(document.querySelectorAll('#main button, #main input, #main textarea, #main .el-select'))
      .filter((el) => el.getClientRects().length > 0 && el.getBoundingClientRect().right > window.innerWidth + 1)
      .map((el) => (el.textContent || el.getAttribute('placeholder') || el.tagName).trim().slice(0, 24)),
  )
}

/** The page's interactive targets smaller than 24 x 24 CSS px (WCAG 2.2, 2.5.8 Target Size
 *  Minimum), by their words and size. A radio or checkbox is measured by its label (what takes
 *  the tap); a link inside a sentence is excepted, as the criterion does. */
export async function smallTargets(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const selector = 'a[href], button, input, select, textarea, [role="button"], [role="radio"], [role="checkbox"], [role="tab"], [tabindex="0"]'
    const small: string[] = []
    for (const el of Array.from(document.querySelectorAll<HTMLElement>(selector))) {
      if (el.closest('.sw-skip') || el.getClientRects().length === 0) continue
      const style = getComputedStyle(el)
      if (style.visibility === 'hidden') continue
      let target: Element = el
      if (el instanceof HTMLInputElement && (el.type === 'radio' || el.type === 'checkbox' || el.type === 'file')) {
        target = el.closest('label') ?? (el.id ? document.querySelector(`label[for="${el.id}"]`) : null) ?? el
        if (target === el && style.opacity === '0') continue
      }
      if (el.tagName === 'A' && getComputedStyle(el).display === 'inline') {
        // In a sentence: text beside it in the same block.
        const block = el.parentElement
        const around = (block?.textContent ?? '').replace(el.textContent ?? '', '').trim()
        if (around.length > 0 && block && getComputedStyle(block).display !== 'flex') continue
      }
      const box = target.getBoundingClientRect()
      if (box.width < 24 || box.height < 24) {
        const words = (el.getAttribute('aria-label') || el.textContent || el.getAttribute('placeholder') || el.tagName).trim().slice(0, 24)
        small.push(`${words} (${Math.round(box.width)}x${Math.round(box.height)})`)
      }
    }
    return small
  })
}

/** No name, student number or note in the address bar or the title. */
export async function leaksNothing(page: Page, secrets: string[]): Promise<void> {
  const url = decodeURIComponent(page.url())
  const title = await page.title()
  for (const secret of secrets) {
    expect(url).not.toContain(secret)
    expect(title).not.toContain(secret)
  }
}

/** How many reports wait in the phone's IndexedDB. */
export async function pendingOnDevice(page: Page): Promise<number> {
  return page.evaluate(
    () =>
      new Promise<number>((done, fail) => {
        const open = indexedDB.open('shouwang-offline')
        open.onerror = () => fail(open.error)
        open.onsuccess = () => {
          const db = open.result
          if (!db.objectStoreNames.contains('reports')) return done(0)
          const count = db.transaction('reports').objectStore('reports').count()
          count.onsuccess = () => done(count.result)
        }
      }),
  )
}

/** How many receipts intake lists for the signed-in reporter. */
export async function receiptCount(page: Page): Promise<number> {
  return page.evaluate(async () => {
    const answer = await fetch('/api/intake/v1/reports?limit=100', { credentials: 'same-origin' })
    return ((await answer.json()) as { items: unknown[] }).items.length
  })
}

/** On the report page: the student picked by name, one signal chosen. */
export async function fillReport(page: Page, who: string, signal: string) {
  await page.getByLabel('输入学号或姓名').fill(who)
  await page.getByRole('button', { name: new RegExp(who) }).click()
  await page.getByRole('button', { name: signal }).click()
}
