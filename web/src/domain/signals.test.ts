import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import en from '@/i18n/en'
import zh from '@/i18n/zh-CN'
import { ALL_SIGNALS, needsCallFirst } from './signals'

// The platform's vocabulary, as the contracts package exports it.
const schema = JSON.parse(
  readFileSync(resolve(__dirname, '../../../libs/contracts/schemas/shouwang.report.submitted.v1.json'), 'utf-8'),
) as { $defs: { Signal: { enum: string[] } } }

describe('the signal vocabulary on the report page', () => {
  it('offers every signal of the contract exactly once, in one group', () => {
    expect([...ALL_SIGNALS].sort()).toEqual([...schema.$defs.Signal.enum].sort())
    expect(new Set(ALL_SIGNALS).size).toBe(ALL_SIGNALS.length)
  })

  it('has plain words for each in zh-CN and English', () => {
    for (const signal of ALL_SIGNALS) {
      expect(zh.signals[signal], signal).toBeTruthy()
      expect(en.signals[signal], signal).toBeTruthy()
    }
  })

  it('asks the reporter to call first when someone may be in danger now', () => {
    expect(needsCallFirst(['suicide_attempt'])).toBe(true)
    expect(needsCallFirst(['self_harm_behavior', 'sleep_disturbance'])).toBe(true)
    expect(needsCallFirst(['hopelessness', 'sleep_disturbance'])).toBe(false)
  })
})
