// The numbers to call when the campus directory cannot be fetched: a reporter whose network
// dropped after the report page loaded saw the heading "全国通用电话" over an empty list.
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

beforeEach(() => {
  vi.resetModules() // the directory is kept per page load (module state)
  setActivePinia(createPinia())
})
afterEach(() => vi.unstubAllGlobals())

async function mountList(compact: boolean) {
  const { default: CallList } = await import('./CallList.vue')
  const { i18n } = await import('@/i18n') // the same instance CallList reads the language from
  i18n.global.locale.value = 'zh-CN'
  const wrapper = mount(CallList, { props: { compact }, global: { plugins: [i18n] } })
  await flushPromises()
  return wrapper
}

const tel = (wrapper: Awaited<ReturnType<typeof mountList>>) => wrapper.findAll('a').map((a) => a.attributes('href'))

describe('the numbers to call', () => {
  it('offline, still lists 110, 120 and the national hotline', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))))
    expect(tel(await mountList(false))).toEqual(['tel:110', 'tel:120', 'tel:12356'])
  })

  it('offline and compact (the report form), still lists 110 and 120', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))))
    const wrapper = await mountList(true)
    expect(tel(wrapper)).toEqual(['tel:110', 'tel:120'])
    expect(wrapper.text()).toContain('报警')
  })

  it('online, lists what the directory says, the campus first', async () => {
    const directory = {
      everywhere: [{ kind: 'police', label: '报警', label_en: 'Police', phone: '110' }],
      campuses: [{ campus_id: 'demo', name: '演示校区', name_en: 'Demo', emergency: [{ kind: 'security', label: '保卫处', label_en: 'Security', phone: '13800000110' }] }],
    }
    vi.stubGlobal('fetch', vi.fn(async () => new Response(JSON.stringify(directory), { status: 200, headers: { 'Content-Type': 'application/json' } })))
    expect(tel(await mountList(false))).toEqual(['tel:13800000110', 'tel:110'])
  })
})
