// The desk's header on a phone (375 px, a counselor at night): the pages stay in one row and
// who, language and sign out fold under a disclosure button that a keyboard and a screen
// reader can work; at a desk all of it stands in the header.
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createMemoryHistory, createRouter } from 'vue-router'
import { useSession } from '@/api/session'
import { i18n } from '@/i18n'
import DeskLayout from './DeskLayout.vue'
import { NARROW } from './narrow'

const Blank = { template: '<h1>page</h1>' }

async function mountDesk(narrow: boolean) {
  vi.stubGlobal('matchMedia', (query: string) => ({
    matches: narrow && query === NARROW,
    addEventListener: () => undefined,
    removeEventListener: () => undefined,
  }))
  const pinia = createPinia()
  setActivePinia(pinia)
  useSession().user = {
    sub: 'demo:t1',
    role: 'residence_counselor',
    role_label: '辅导员',
    campus_id: 'demo',
    display_name: '王老师',
    scope: [],
  }
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/desk/awaiting', component: Blank },
      { path: '/desk/queue', component: Blank },
      { path: '/desk/outcomes', component: Blank },
      { path: '/report', component: Blank },
    ],
  })
  await router.push('/desk/queue')
  const wrapper = mount(DeskLayout, { global: { plugins: [pinia, i18n, router] }, attachTo: document.body })
  await flushPromises()
  return { wrapper, router }
}

beforeEach(() => {
  i18n.global.locale.value = 'zh-CN'
  vi.stubGlobal(
    'fetch',
    vi.fn(async () => new Response(JSON.stringify({ count: 0 }), { status: 200, headers: { 'Content-Type': 'application/json' } })),
  )
})
afterEach(() => {
  vi.unstubAllGlobals()
  document.body.innerHTML = ''
})

describe("the desk's header", () => {
  it('on a phone, folds who, language and sign out under a button that says whether it is open', async () => {
    const { wrapper } = await mountDesk(true)
    const more = wrapper.get('button.desk__more')
    const panel = wrapper.get('#desk-who')
    expect(more.attributes('aria-label')).toBe('账号、语言与退出')
    expect(more.text()).toContain('账号') // the visible words are in the spoken name
    expect(more.attributes('aria-controls')).toBe('desk-who')
    expect(more.attributes('aria-expanded')).toBe('false')
    expect(panel.isVisible()).toBe(false)
    // The pages themselves are never folded away.
    expect(wrapper.findAll('nav a').map((a) => a.text())).toEqual(['待我确认', '我的队列', '上报', '成效统计'])

    await more.trigger('click')
    expect(more.attributes('aria-expanded')).toBe('true')
    expect(panel.isVisible()).toBe(true)
    expect(panel.text()).toContain('王老师 · 辅导员')
    expect(panel.text()).toContain('退出登录')

    // Escape from inside the panel closes it and gives the focus back to its button.
    await panel.get('button.sw-lang').trigger('keydown', { key: 'Escape' })
    expect(more.attributes('aria-expanded')).toBe('false')
    expect(panel.isVisible()).toBe(false)
    expect(document.activeElement).toBe(more.element)
    // And from the button itself, where the focus is right after opening it.
    await more.trigger('click')
    await more.trigger('keydown', { key: 'Escape' })
    expect(more.attributes('aria-expanded')).toBe('false')
  })

  it('on a phone, closes the panel when another page is opened', async () => {
    const { wrapper, router } = await mountDesk(true)
    await wrapper.get('button.desk__more').trigger('click')
    await router.push('/desk/outcomes')
    await flushPromises()
    expect(wrapper.get('button.desk__more').attributes('aria-expanded')).toBe('false')
    expect(wrapper.get('#desk-who').isVisible()).toBe(false)
  })

  it('at a desk, shows all of it with no button to open', async () => {
    const { wrapper } = await mountDesk(false)
    expect(wrapper.find('button.desk__more').exists()).toBe(false)
    expect(wrapper.get('#desk-who').isVisible()).toBe(true)
    expect(wrapper.get('#desk-who').text()).toContain('退出登录')
  })

  it('takes a counselor to the report page: staff report a parent’s call or a session too', async () => {
    const { wrapper, router } = await mountDesk(false)
    const report = wrapper.findAll('nav a').find((a) => a.text() === '上报')!
    expect(report.attributes('href')).toBe('/report')
    await report.trigger('click')
    await flushPromises()
    expect(router.currentRoute.value.path).toBe('/report')
  })
})
