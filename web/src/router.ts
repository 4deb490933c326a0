// Pages, who may open them, and their titles (never a name or a number: titles show in
// history, tab lists and screen-sharing).
import { createRouter, createWebHistory, type RouteLocationNormalized } from 'vue-router'
import { onUnauthorized } from './api/http'
import { CASE_ROLES, OUTCOME_ROLES, REPORTER_ROLES, WORKING_ROLES, homeFor, useSession } from './api/session'
import type { Role } from './api/types'
import { i18n } from './i18n'

declare module 'vue-router' {
  interface RouteMeta {
    title: string
    public?: boolean
    roles?: Role[]
  }
}

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: '/', redirect: '/login', meta: { title: 'app.name', public: true } },
    {
      path: '/login',
      component: () => import('./login/LoginPage.vue'),
      meta: { title: 'login.title', public: true },
    },
    {
      path: '/emergency',
      component: () => import('./report/EmergencyPage.vue'),
      meta: { title: 'emergency.title', public: true },
    },
    {
      path: '/report',
      component: () => import('./report/ReportPage.vue'),
      meta: { title: 'report.title', roles: REPORTER_ROLES },
    },
    {
      path: '/report/receipts',
      component: () => import('./report/MyReports.vue'),
      meta: { title: 'report.myReports', roles: REPORTER_ROLES },
    },
    {
      path: '/report/receipts/:id',
      component: () => import('./report/ReceiptPage.vue'),
      meta: { title: 'receipt.title', roles: REPORTER_ROLES },
    },
    {
      path: '/desk',
      component: () => import('./desk/DeskLayout.vue'),
      meta: { title: 'desk.title' },
      children: [
        // Those who may not acknowledge are sent on to their own home by the role check.
        { path: '', redirect: '/desk/awaiting', meta: { title: 'desk.title' } },
        {
          path: 'awaiting',
          component: () => import('./desk/AwaitingPage.vue'),
          meta: { title: 'awaiting.title', roles: WORKING_ROLES },
        },
        {
          path: 'queue',
          component: () => import('./desk/QueuePage.vue'),
          meta: { title: 'desk.queue', roles: CASE_ROLES },
        },
        {
          path: 'cases/:id',
          component: () => import('./desk/CasePage.vue'),
          meta: { title: 'case.title', roles: CASE_ROLES },
        },
        {
          path: 'students/:ref',
          component: () => import('./desk/StudentFilePage.vue'),
          meta: { title: 'file.title', roles: [...CASE_ROLES, 'campus_admin'] },
        },
        {
          path: 'roster',
          component: () => import('./desk/RosterPage.vue'),
          meta: { title: 'roster.title', roles: ['campus_admin'] },
        },
        {
          path: 'contacts',
          component: () => import('./desk/ContactsPage.vue'),
          meta: { title: 'contacts.title', roles: ['campus_admin'] },
        },
        {
          path: 'audit',
          component: () => import('./desk/AuditPage.vue'),
          meta: { title: 'audit.title', roles: ['auditor'] },
        },
        {
          path: 'outcomes',
          component: () => import('./desk/OutcomesPage.vue'),
          meta: { title: 'outcomes.title', roles: OUTCOME_ROLES },
        },
      ],
    },
    { path: '/:rest(.*)*', redirect: '/login', meta: { title: 'app.name', public: true } },
  ],
})

router.beforeEach(async (to: RouteLocationNormalized) => {
  const session = useSession()
  if (!session.loaded) {
    try {
      await session.load()
    } catch {
      // The gateway is unreachable: public pages still work (the emergency page above all).
    }
  }
  if (to.path === '/login' && session.user) return homeFor(session.user.role)
  if (to.meta.public) return true
  if (!session.user) return { path: '/login', query: { next: to.fullPath } }
  if (to.meta.roles && !to.meta.roles.includes(session.user.role)) return homeFor(session.user.role)
  return true
})

router.afterEach((to) => {
  const t = i18n.global.t
  document.title = `${t(to.meta.title)} · ${t('app.name')}`
})

onUnauthorized(() => {
  const session = useSession()
  if (!session.user) return
  session.forget()
  const here = router.currentRoute.value
  if (!here.meta.public) void router.push({ path: '/login', query: { next: here.fullPath, expired: '1' } })
})
