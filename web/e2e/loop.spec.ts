// The closed loop through the web app, as people would do it: a campus admin imports the
// roster, a dorm-room leader reports a roommate from a 375-px phone, the owner (the community
// psychology teacher, for a moderate grade) finds it awaiting their confirmation, confirms it,
// opens it from the queue and walks
// it to closed with a referral and a follow-up, and the reporter sees only that it is done.
import { expect, test, type Page } from '@playwright/test'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { SAMPLES, accessible, context, leaksNothing, shot, signIn } from './support'

const STUDENT = '测试学生31' // 2024020031, room 8号楼202 with the dorm leader 2024020001
const STUDENT_NO = '2024020031'
const NOTE = '这周他几乎不出门，说什么都没意思，晚上也睡不着。'
let receiptPath = ''

async function upload(page: Page, kind: '学生名单' | '人员与负责范围', name: string, content: Buffer) {
  await page.getByRole('radio', { name: kind }).check({ force: true })
  await page.getByLabel('选择 CSV 或 XLSX 文件').setInputFiles({ name, mimeType: 'text/csv', buffer: content })
  await page.getByTestId('import-upload').click()
}

test.describe.serial('the closed loop through the web app', () => {
  test('a campus admin imports the roster; a bad file is refused row by row', async ({ browser }) => {
    const page = await (await context(browser, 'desk')).newPage()
    await signIn(page, 'admin')
    await expect(page).toHaveURL(/\/desk\/roster/)
    const students = readFileSync(resolve(SAMPLES, 'roster_students.csv'))
    const broken = Buffer.from(
      students.toString('utf-8').replace('2024020004,测试学生04', ',测试学生04').replace('2024030005,', '2024020001,'),
    )
    await upload(page, '学生名单', 'broken.csv', broken)
    await expect(page.getByRole('status')).toContainText('本次没有导入任何内容')
    const errors = page.getByTestId('import-errors')
    await expect(errors).toContainText('5') // the row without a number, as the spreadsheet counts it
    await shot(page, 'desk-roster-errors')
    await accessible(page)
    // A role given a scope it may not hold (a dorm-room leader given a college): the row and
    // the column named, the reason in words, nothing imported.
    const staff = readFileSync(resolve(SAMPLES, 'roster_staff.csv'))
    const beyond = Buffer.from(staff.toString('utf-8').replace('寝室长,寝室,8号楼202', '寝室长,学院,土木建筑工程学院'))
    await upload(page, '人员与负责范围', 'beyond.csv', beyond)
    await expect(page.getByRole('status')).toContainText('本次没有导入任何内容')
    const beyondRow = page.getByTestId('import-errors').getByRole('row', { name: /寝室长不能负责学院范围/ })
    await expect(beyondRow.getByRole('cell').nth(0)).toHaveText('7')
    await expect(beyondRow.getByRole('cell').nth(1)).toHaveText('范围类型')
    await expect(beyondRow).toContainText('寝室长可负责的范围类型：寝室')
    await shot(page, 'desk-roster-scope-refused')

    await upload(page, '学生名单', 'roster_students.csv', students)
    await expect(page.getByRole('status')).toContainText('已导入：40 行')
    await upload(page, '人员与负责范围', 'roster_staff.csv', readFileSync(resolve(SAMPLES, 'roster_staff.csv')))
    await expect(page.getByRole('status')).toContainText('已导入：8 行')
    await shot(page, 'desk-roster')
  })

  test('a dorm-room leader reports a roommate from a phone', async ({ browser }) => {
    const page = await (await context(browser, 'phone')).newPage()
    await signIn(page, 'dorm')
    await expect(page).toHaveURL(/\/report$/)
    await expect(page.getByRole('link', { name: '有人正处于危险中？立即求助' })).toBeVisible()
    await shot(page, 'phone-report-empty')
    await accessible(page)

    await page.getByRole('button', { name: '提交上报' }).click()
    await expect(page.getByText('请选择一位同学')).toBeVisible()
    await shot(page, 'phone-report-errors')

    // Never listed themself (casework's lookup counts the reporter among the students in their
    // scope), but their own number typed in is offered as their own request for help.
    const looked = page.waitForResponse((r) => r.url().includes('/students/lookup?q=2024020001'))
    await page.getByLabel('输入学号或姓名').fill('2024020001')
    await looked
    await expect(page.getByTestId('for-yourself')).toContainText('作为你本人的求助交给你的辅导员')
    await expect(page.getByRole('button', { name: '为我自己求助' })).toBeVisible()
    await expect(page.getByRole('button', { name: /测试学生01|按学号上报/ })).toHaveCount(0)
    await shot(page, 'phone-report-for-yourself')
    await accessible(page)

    await page.getByLabel('输入学号或姓名').fill('学生31')
    await page.getByRole('button', { name: new RegExp(STUDENT) }).click()
    await page.getByRole('button', { name: '觉得一切都没有希望' }).click()
    await page.getByRole('button', { name: '不愿与人来往、总是独来独往' }).click()
    await page.getByRole('button', { name: '失眠，或睡得特别多' }).click()
    await page.getByLabel('补充说明（选填）').fill(NOTE)
    // The student came to the reporter and asked for help: a self-referral.
    await page.getByRole('radio', { name: '学生本人求助' }).check()
    await shot(page, 'phone-report-filled')
    await page.getByRole('button', { name: '说过想死，并提到具体办法或时间' }).click()
    await expect(page.getByRole('alert').filter({ hasText: '如果这件事正在发生' })).toBeVisible()
    await shot(page, 'phone-report-call-first')
    await page.getByRole('button', { name: '说过想死，并提到具体办法或时间' }).click()

    await page.getByRole('button', { name: '提交上报' }).click()
    await expect(page).toHaveURL(/\/report\/receipts\/[0-9a-f-]{36}$/)
    await expect(page.getByTestId('receipt-status')).toHaveText(/已收到|正在处理/)
    receiptPath = new URL(page.url()).pathname
    await leaksNothing(page, [STUDENT, STUDENT_NO, NOTE])
    await shot(page, 'phone-receipt')
    await accessible(page)
    // Being handled once the case is open.
    await expect(page.getByTestId('receipt-status')).toHaveText('正在处理', { timeout: 120_000 })
    await shot(page, 'phone-receipt-in-progress')
  })

  test('the owner acknowledges and walks the case to closed with a referral and a follow-up', async ({ browser }) => {
    const page = await (await context(browser, 'desk')).newPage()
    await signIn(page, 'teacher')
    // Staff who acknowledge land on what waits for their confirmation, counted in the nav.
    await expect(page).toHaveURL(/\/desk\/awaiting/)
    const waiting = page.getByTestId('awaiting').locator('tr', { hasText: STUDENT })
    await expect(waiting).toBeVisible({ timeout: 120_000 })
    await expect(waiting).toContainText('中度')
    await expect(waiting).toContainText('后上报')
    await expect(page.getByTestId('awaiting-badge')).toBeVisible()
    await shot(page, 'desk-awaiting')
    await accessible(page)
    await waiting.getByRole('button', { name: '确认接手' }).click()
    await expect(page.getByText('已确认接手，预警不再逐级上报')).toBeVisible()
    await expect(waiting).toHaveCount(0)

    await page.getByRole('link', { name: '我的队列' }).click()
    const row = page.getByTestId('queue').locator('tr', { hasText: STUDENT })
    await expect(row).toBeVisible({ timeout: 120_000 })
    await expect(row).toContainText('中度')
    await shot(page, 'desk-queue')
    await accessible(page)
    await row.getByRole('button', { name: '查看' }).click()
    await expect(page).toHaveURL(/\/desk\/cases\/[0-9a-f-]{36}$/)
    await leaksNothing(page, [STUDENT, STUDENT_NO])
    await expect(page.getByText('已于').first()).toBeVisible()
    await shot(page, 'desk-case-open')
    await accessible(page)

    const step = async (state: string, fill?: () => Promise<void>) => {
      await page.locator(`[data-step="${state}"]`).click()
      await fill?.()
      await page.getByTestId('confirm-transition').click()
    }
    await step('intervention', () => page.getByLabel('已采取的措施').fill('当面谈心，约定每周一次心理咨询'))
    await expect(page.getByTestId('case-state')).toHaveText('干预')
    await page.getByLabel('添加记录').fill('谈话中情绪低落，愿意接受咨询。')
    await page.getByRole('button', { name: '添加记录' }).click()
    await expect(page.getByText('谈话中情绪低落，愿意接受咨询。')).toBeVisible()

    await step('referred', async () => {
      await page.getByLabel('转介去向').fill('市精神卫生中心')
    })
    await expect(page.getByTestId('case-state')).toHaveText('转介')
    await page.locator('[data-referral="accepted"]').click()
    await expect(page.getByTestId('referral-status')).toHaveText('已接收')
    await page.locator('[data-referral="returned"]').click()
    await expect(page.getByTestId('case-state')).toHaveText('善后')
    await shot(page, 'desk-case-aftercare')

    await step('follow_up')
    await expect(page.getByTestId('case-state')).toHaveText('回访')
    await page.getByTestId('follow-up-finding').first().selectOption('relieved')
    await page.getByTestId('follow-up-note').first().fill('电话回访，情绪平稳')
    await page.getByTestId('complete-follow-up').first().click()
    await expect(page.getByText('已记录回访完成')).toBeVisible()
    await expect(page.locator('.case__finding').first()).toHaveText('缓解')
    await expect(page.locator('[data-follow-up="completed"]').first()).toBeVisible()
    await step('closed')
    await expect(page.getByTestId('case-state')).toHaveText('结案')
    await expect(page.getByText('结案结果：缓解')).toBeVisible()
    await shot(page, 'desk-case-closed')

    await page.getByRole('link', { name: '学生档案' }).click()
    await expect(page.getByText(NOTE)).toBeVisible()
    await expect(page.getByText('获知途径：学生本人求助')).toBeVisible()
    await shot(page, 'desk-student-file')
    await accessible(page)
  })

  test('the reporter sees that it is done, and nothing of the case', async ({ browser }) => {
    const page = await (await context(browser, 'phone')).newPage()
    await signIn(page, 'dorm')
    await page.goto(receiptPath)
    await expect(page.getByTestId('receipt-status')).toHaveText('已处理完毕', { timeout: 120_000 })
    await expect(page.getByText('市精神卫生中心')).toHaveCount(0)
    await page.goto('/report/receipts')
    await expect(page.getByText('已处理完毕').first()).toBeVisible()
    await shot(page, 'phone-my-reports')
    await accessible(page)
    // A student never opens the desk.
    await page.goto('/desk/queue')
    await expect(page).toHaveURL(/\/report$/)
  })

  test('the outcomes page counts the case, found and relieved, without showing how few', async ({ browser }) => {
    const page = await (await context(browser, 'desk')).newPage()
    await signIn(page, 'center')
    await page.getByRole('link', { name: '成效统计' }).click()
    await expect(page).toHaveURL(/\/desk\/outcomes$/)
    const totals = page.getByTestId('annual-table').locator('tr.total')
    // One case this year: stats counts it, and hides a count under five as "<5" (never "0").
    // Stats folds the events in as they arrive, so the count may take a reload or two.
    await expect(async () => {
      await page.reload()
      await expect(totals.locator('xpath=./td[last()-1]')).toHaveText('<5', { timeout: 2_000 })
    }).toPass({ timeout: 120_000 })
    await expect(totals.locator('xpath=./td[last()]')).toHaveText('<5')
    // The center reads the year as it stands (others wait for the month to close): as of today.
    const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(new Date())
    await expect(page.getByTestId('annual-as-of')).toContainText(`数据截至 ${today}`)
    // One case: its legs have fewer than five students, and the page says so (the cycle-time
    // chart stood empty without a word).
    await expect(page.getByTestId('cycle-times-hidden').or(page.getByTestId('cycle-times-none'))).toBeVisible()
    await expect(page.getByRole('link', { name: /CSV/ })).toHaveAttribute('href', /format=csv/)
    await leaksNothing(page, [STUDENT, STUDENT_NO])
    await shot(page, 'desk-outcomes-counted')
    await accessible(page)
  })

  test('outside their scope, a counselor opens a file only by breaking the glass, with a reason', async ({ browser }) => {
    // A floor leader of 7号楼 reports a student there; the counselor of 8号楼 is not responsible.
    const phone = await (await context(browser, 'phone')).newPage()
    await signIn(phone, 'floor')
    await phone.getByLabel('输入学号或姓名').fill('学生32')
    await phone.getByRole('button', { name: /测试学生32/ }).click()
    await phone.getByRole('button', { name: '和室友矛盾很大' }).click()
    await phone.getByRole('button', { name: '提交上报' }).click()
    await expect(phone).toHaveURL(/\/report\/receipts\//)

    // The counseling center sees the whole campus: the file's address comes from there.
    const center = await (await context(browser, 'desk')).newPage()
    await signIn(center, 'center')
    await center.getByRole('link', { name: '我的队列' }).click()
    await center.getByRole('radio', { name: '我范围内的' }).check({ force: true })
    const row = center.getByTestId('queue').locator('tr', { hasText: '测试学生32' })
    await expect(row).toBeVisible({ timeout: 120_000 })
    await row.getByRole('button', { name: '查看' }).click()
    await center.getByRole('link', { name: '学生档案' }).click()
    await expect(center).toHaveURL(/\/desk\/students\//)
    const fileAddress = new URL(center.url()).pathname

    const desk = await (await context(browser, 'desk')).newPage()
    await signIn(desk, 'counselor')
    await desk.goto(fileAddress)
    await expect(desk.getByText('该学生不在你的负责范围内')).toBeVisible()
    await expect(desk.getByText('测试学生32')).toHaveCount(0)
    await shot(desk, 'desk-file-out-of-scope')
    await desk.getByLabel('紧急查看的理由（至少 8 个字）').fill('值班时接到宿管电话，学生情绪激动，需要了解既往情况')
    await desk.getByRole('button', { name: '申请临时查看' }).click()
    await expect(desk.getByText('临时查看中（已记录，将被复核）')).toBeVisible()
    await expect(desk.getByText('测试学生32').first()).toBeVisible()
    await shot(desk, 'desk-file-break-glass')
    await accessible(desk)
  })
})
