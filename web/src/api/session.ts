// The signed-in person, in memory only (the cookie is HTTP-only; the CSRF token lives here).
import { defineStore } from 'pinia'
import { api, setCsrfToken } from './http'
import type { Role, SessionInfo, User } from './types'
import { VOCABULARY, type Vocabulary } from '@/domain/vocabulary'

export const REPORTER_ROLES: Role[] = [
  'dorm_leader',
  'floor_leader',
  'class_wellbeing_officer',
  'residence_counselor',
  'community_psych_teacher',
  'counseling_center',
  'college_leader',
]
export const STUDENT_ROLES: Role[] = ['dorm_leader', 'floor_leader', 'class_wellbeing_officer']
export const CASE_ROLES: Role[] = [
  'residence_counselor',
  'community_psych_teacher',
  'counseling_center',
  'college_leader',
]

/** Who works cases: acknowledges, moves them on, writes notes and plans (casework's tier 4+ in
 *  scope). College leaders read their college's cases, structured facts only: the desk shows
 *  them no control casework would refuse. */
export const WORKING_ROLES: Role[] = ['residence_counselor', 'community_psych_teacher', 'counseling_center']

/** Who sees the whole campus (the contract's `Principal.campus_wide`, its inputs in
 *  vocabulary.json): the counseling center, campus admins and holders of a `campus` grant.
 *  Casework's student picker asks them for two characters at least (`query_too_short`). */
export function campusWide(user: User | null, vocabulary: Vocabulary = VOCABULARY): boolean {
  const { roles, grants } = vocabulary.campus_wide
  return !!user && (roles.includes(user.role) || user.scope.some((g) => grants.includes(g.split(':')[0]?.trim() ?? '')))
}
/** The fewest characters casework's picker takes from a campus-wide caller. */
export const MIN_CAMPUS_WIDE_QUERY = 2

/** Who reads outcome figures (stats decides; these see the page). */
export const OUTCOME_ROLES: Role[] = [...CASE_ROLES, 'campus_admin', 'platform_admin']

/** Where a person lands after signing in: students report; staff who acknowledge alerts
 *  first see what waits for their confirmation (the escalation clock runs against them), other
 *  case readers their queue. */
export function homeFor(role: Role): string {
  if (WORKING_ROLES.includes(role)) return '/desk/awaiting'
  if (STUDENT_ROLES.includes(role)) return '/report'
  if (role === 'campus_admin') return '/desk/roster'
  if (role === 'platform_admin') return '/desk/outcomes'
  if (role === 'auditor') return '/desk/audit'
  return '/desk/queue'
}

export const useSession = defineStore('session', {
  state: () => ({
    loaded: false,
    user: null as User | null,
    methods: { local: true, oidc: false },
  }),
  getters: {
    signedIn: (state) => state.user !== null,
    ownerKey: (state) => (state.user ? `${state.user.campus_id}:${state.user.sub}` : ''),
  },
  actions: {
    apply(info: SessionInfo) {
      this.user = info.signed_in ? info.user : null
      this.methods = info.methods
      setCsrfToken(info.csrf_token)
      this.loaded = true
    },
    async load() {
      const { data } = await api.get<SessionInfo>('/auth/session')
      this.apply(data)
    },
    async signIn(campusId: string, username: string, password: string) {
      const { data } = await api.post<SessionInfo>('/auth/login', {
        campus_id: campusId,
        username,
        password,
      })
      this.apply(data)
    },
    async signOut() {
      await api.post('/auth/logout')
      this.user = null
      setCsrfToken(null)
    },
    forget() {
      this.user = null
      setCsrfToken(null)
    },
  },
})
