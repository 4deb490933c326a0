// What a refusal says on the desk: the service's detail, then what it says of each field, and
// nothing twice.
import { beforeEach, describe, expect, it } from 'vitest'
import { ApiError } from '@/api/http'
import { i18n } from '@/i18n'
import { problemText } from './feedback'

beforeEach(() => {
  i18n.global.locale.value = 'zh-CN'
})

describe('a refusal, in words', () => {
  it('says a field message that repeats the detail once', () => {
    const closing = new ApiError(422, 'follow_up_required', '重度或危急个案须完成回访后方可结案', [
      { field: 'follow_up', message: '重度或危急个案须完成回访后方可结案' },
    ])
    expect(problemText(closing)).toBe('重度或危急个案须完成回访后方可结案')
  })

  it('adds what the fields say when it says more', () => {
    const invalid = new ApiError(422, 'validation_failed', '请求内容未通过校验', [
      { field: 'destination', message: '请填写转介去向' },
      { field: 'consent', message: '请选择学生是否同意' },
    ])
    expect(problemText(invalid)).toBe('请求内容未通过校验：请填写转介去向；请选择学生是否同意')
  })

  it('never says nothing', () => {
    expect(problemText(new ApiError(500, 'internal', ''))).toBe(i18n.global.t('errors.generic'))
  })
})
