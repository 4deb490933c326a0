// A step of the loop on a phone: the dialog was 520 px wide at 375 px, its confirm button and
// its close past the right edge.
import { flushPromises, mount } from '@vue/test-utils'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { CaseDetail } from '@/api/types'
import { i18n } from '@/i18n'
import { NARROW } from './narrow'
import TransitionDialog from './TransitionDialog.vue'

const DETAIL = { case_id: 'c1', state: 'intervention', version: 3 } as unknown as CaseDetail

function narrowAs(narrow: boolean) {
  vi.stubGlobal('matchMedia', (query: string) => ({
    matches: narrow && query === NARROW,
    addEventListener: () => undefined,
    removeEventListener: () => undefined,
  }))
}

async function dialogWidth(): Promise<string> {
  const wrapper = mount(TransitionDialog, { props: { detail: DETAIL, to: 'referred' }, global: { plugins: [i18n] }, attachTo: document.body })
  await flushPromises()
  const dialog = document.querySelector<HTMLElement>('.el-dialog')!
  expect(dialog.textContent).toContain('转介去向') // the referral step, asking its destination
  const width = dialog.style.getPropertyValue('--el-dialog-width')
  wrapper.unmount()
  return width
}

beforeEach(() => {
  i18n.global.locale.value = 'zh-CN'
})
afterEach(() => {
  vi.unstubAllGlobals()
  document.body.innerHTML = ''
})

describe('a step of the loop', () => {
  it('on a phone, fits the screen', async () => {
    narrowAs(true)
    expect(await dialogWidth()).toBe('94%')
  })

  it('at a desk, keeps its width', async () => {
    narrowAs(false)
    expect(await dialogWidth()).toBe('520px')
  })
})
