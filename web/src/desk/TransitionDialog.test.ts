// A step of the loop on a phone: the dialog was 520 px wide at 375 px, its confirm button and
// its close past the right edge.
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { useSession } from '@/api/session'
import type { CaseDetail, Role } from '@/api/types'
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

function signedIn(role: Role) {
  const pinia = createPinia()
  setActivePinia(pinia)
  useSession().user = { sub: 'T1', role, role_label: '', campus_id: 'demo', display_name: '', scope: [] }
  return pinia
}

async function dialogWidth(): Promise<string> {
  const wrapper = mount(TransitionDialog, {
    props: { detail: DETAIL, to: 'referred' },
    global: { plugins: [signedIn('counseling_center'), i18n] },
    attachTo: document.body,
  })
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

  it('offers overriding the student’s consent to tier 5+ only (casework refuses a counselor’s)', async () => {
    narrowAs(false)
    for (const [role, offered] of [['residence_counselor', false], ['community_psych_teacher', true]] as const) {
      const wrapper = mount(TransitionDialog, {
        props: { detail: DETAIL, to: 'referred' },
        global: { plugins: [signedIn(role), i18n] },
        attachTo: document.body,
      })
      await flushPromises()
      const choices = [...document.querySelectorAll('.el-dialog .el-radio')].map((r) => r.textContent!.trim())
      expect(choices.slice(0, 2)).toEqual(['同意', '不同意'])
      expect(choices.some((c) => c.startsWith('覆盖'))).toBe(offered)
      wrapper.unmount()
      document.body.innerHTML = ''
    }
  })
})
