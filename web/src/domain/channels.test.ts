import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { Role } from '@/api/types'
import en from '@/i18n/en'
import zh from '@/i18n/zh-CN'
import { REPORT_CHANNELS, channelsFor, reportableBy } from './channels'

const contracts = resolve(__dirname, '../../../libs/contracts')
// The platform's vocabulary, as the contracts package exports it.
const schema = JSON.parse(
  readFileSync(resolve(contracts, 'schemas/shouwang.report.submitted.v1.json'), 'utf-8'),
) as { $defs: { ReportChannel: { enum: string[] } } }
// The contract's own words (`ReportChannel.label`), read from where they are declared:
// `ReportChannel.OBSERVED: ("亲眼所见", "Observed by the reporter"),`
const vocabulary = readFileSync(resolve(contracts, 'src/shouwang_contracts/vocabulary.py'), 'utf-8')
const LABEL = /ReportChannel\.(\w+): \(\s*"([^"]+)",\s*"([^"]+)",?\s*\)/g
const labels = new Map([...vocabulary.matchAll(LABEL)].map(([, name, zhCN, english]) => [name!.toLowerCase(), [zhCN, english]]))

describe('the report channels', () => {
  it('are the contract’s, each once', () => {
    expect([...REPORT_CHANNELS]).toEqual(schema.$defs.ReportChannel.enum)
  })

  it.each(REPORT_CHANNELS)('%s is said in the contract’s words in zh-CN and English', (channel) => {
    expect(labels.get(channel), `no label for ${channel} in vocabulary.py`).toBeDefined()
    expect([zh.channels[channel], en.channels[channel]]).toEqual(labels.get(channel))
  })

  // As `ReportChannel.reportable_by`: anyone may see signs or be asked for help; a family calls
  // staff; only those who hold counseling sessions learn of it in one.
  it.each([
    ['dorm_leader', ['observed', 'self_referral']],
    ['floor_leader', ['observed', 'self_referral']],
    ['class_wellbeing_officer', ['observed', 'self_referral']],
    ['residence_counselor', ['observed', 'self_referral', 'family_call']],
    ['college_leader', ['observed', 'self_referral', 'family_call']],
    ['community_psych_teacher', ['observed', 'self_referral', 'family_call', 'counseling_session']],
    ['counseling_center', ['observed', 'self_referral', 'family_call', 'counseling_session']],
  ] as [Role, string[]][])('offers a %s only what they can have learned it by', (role, offered) => {
    expect(channelsFor(role)).toEqual(offered)
  })

  it('refuses a family call to a student reporter and a session to a residence counselor', () => {
    expect(reportableBy('family_call', 'dorm_leader')).toBe(false)
    expect(reportableBy('counseling_session', 'residence_counselor')).toBe(false)
    expect(reportableBy('self_referral', 'dorm_leader')).toBe(true)
  })
})
