// A staff snapshot's dry run tells the admin, before anything happens, which cases would
// lose their owner and which would move; an import that moves nothing reads as before.
import { describe, expect, it } from 'vitest'
import { createI18n } from 'vue-i18n'
import en from '@/i18n/en'
import zhCN from '@/i18n/zh-CN'
import { importSummary } from './rosterSummary'

function translator(locale: 'zh-CN' | 'en') {
  const i18n = createI18n({ legacy: false, locale, messages: { 'zh-CN': zhCN, en } })
  return (key: string, values?: Record<string, unknown>) => i18n.global.t(key, values ?? {})
}

const staffSnapshot = {
  counts: {
    rows: 8,
    people_unlisted: 3,
    cases_handed_over: 2,
    cases_unowned: 1,
    follow_ups_handed_over: 0,
  },
}

describe('importSummary', () => {
  it('tells a dry run what the import would do to cases, the unowned first', () => {
    const text = importSummary(translator('zh-CN'), staffSnapshot, true)
    expect(text).toBe(
      '检查完成：8 行，没有发现错误。导入后将：1 个个案无人可接手（见队列“未分配”），请尽快安排；' +
        '2 个个案移交给现负责人；3 人移出名单',
    )
    expect(text).not.toContain('随访')
  })

  it('says what an applied import did, in English too', () => {
    expect(importSummary(translator('en'), staffSnapshot, false)).toBe(
      'Imported: 8 rows. As a result: cases nobody can take over, under Unassigned in the queue (arrange them soon): 1; ' +
        'cases handed to who is responsible now: 2; people taken off the roster: 3',
    )
  })

  it('reads as the rows alone when nothing changes for anyone', () => {
    expect(importSummary(translator('zh-CN'), { counts: { rows: 40, unchanged: 40 } }, false)).toBe('已导入：40 行')
  })
})
