// What the services answer, as far as the pages read it (their OpenAPI documents are the
// reference: intake 8001, casework 8003, behind /api/<service>/ on the gateway).
export type Severity = 'none' | 'mild' | 'moderate' | 'severe' | 'critical'
export type CaseState =
  | 'open'
  | 'monitoring'
  | 'intervention'
  | 'referred'
  | 'aftercare'
  | 'follow_up'
  | 'closed'
export type Role =
  | 'dorm_leader'
  | 'floor_leader'
  | 'class_wellbeing_officer'
  | 'residence_counselor'
  | 'community_psych_teacher'
  | 'counseling_center'
  | 'college_leader'
  | 'campus_admin'
  | 'platform_admin'
  | 'auditor'

export interface User {
  sub: string
  role: Role
  role_label: string
  campus_id: string
  display_name: string
  scope: string[]
}

export interface SessionInfo {
  signed_in: boolean
  user: User | null
  csrf_token: string | null
  expires_at: string | null
  methods: { local: boolean; oidc: boolean }
}

export interface EmergencyNumber {
  kind: string
  label: string
  label_en: string
  phone: string
}

export interface CampusDirectory {
  everywhere: EmergencyNumber[]
  campuses: { campus_id: string; name: string; name_en: string; emergency: EmergencyNumber[] }[]
}

export interface StudentCard {
  student_ref: string
  student_no: string
  name: string
  college: string | null
  class_name: string | null
  building: string | null
  room: string | null
}

export interface Receipt {
  id: string
  kind: 'report' | 'screening'
  status: 'received' | 'in_progress' | 'closed'
  status_label: string
  received_at: string
  updated_at: string
}

export interface CaseSummary {
  case_id: string
  student_ref: string
  state: CaseState
  severity: Severity
  owner_ref: string | null
  owner_role: Role
  opened_at: string
  updated_at: string
  deadline: string | null
  unacknowledged_alerts: number
  missed_follow_ups: number
  version: number
}

/** An alert waiting for the reader to acknowledge (casework's `GET /v1/alerts/awaiting-me`). */
export interface AwaitingAlert {
  alert_id: string
  case_id: string
  student_ref: string
  severity: Severity
  owner_role: Role
  escalation_level: number
  raised_at: string
  waiting_seconds: number
  escalates_at: string
  overdue: boolean
}

export interface AwaitingPage {
  items: AwaitingAlert[]
  total: number
  limit: number
  offset: number
  now: string
}

/** How many cases the reader's queue holds (`GET /v1/cases/count`, the list's filters): names no one. */
export interface CaseCount {
  total: number
}

/** How many alerts wait for the reader (`GET /v1/alerts/awaiting-me/count`): names no one. */
export interface AwaitingCount {
  total: number
  overdue: number
}

export interface Alert {
  alert_id: string
  severity: Severity
  owner_role: Role
  ack_deadline: string
  escalation_level: number
  acknowledged_at: string | null
  acknowledged_by_ref: string | null
}

export interface FollowUp {
  follow_up_id: string
  purpose: string
  due_at: string
  assignee_ref: string | null
  status: 'scheduled' | 'completed' | 'cancelled'
  closed_at: string | null
  missed: boolean
  finding?: FollowUpFinding | null
}

/** What a completed follow-up found; `relieved` counts as one person-time relieved (缓解人次). */
export type FollowUpFinding = 'relieved' | 'stable' | 'worsened'
export const FOLLOW_UP_FINDINGS: FollowUpFinding[] = ['relieved', 'stable', 'worsened']

export interface Referral {
  referral_id: string
  destination_type: string
  destination: string
  status: string
  consent: string
  returned_at: string | null
}

export interface CaseDetail extends Omit<CaseSummary, 'deadline' | 'unacknowledged_alerts' | 'missed_follow_ups'> {
  outcome: string | null
  report_ids: string[]
  /** How the case's reports were learned of (`ReportChannel` values), each once; absent from
   * casework before it said so. */
  report_channels?: string[]
  closed_at: string | null
  allowed_transitions: CaseState[]
  alerts: Alert[]
  referral: Referral | null
  follow_ups: FollowUp[]
}

export interface HistoryEntry {
  seq: number
  kind: string
  from_state: CaseState | null
  to_state: CaseState | null
  actor_role: string
  detail: Record<string, unknown>
  text: string | null
  at: string
}

export interface Note {
  note_id: string
  version: number
  author_role: string
  text: string
  created_at: string
}

export interface PlanAction {
  action_id: string
  kind: string
  owner_ref: string | null
  due_at: string | null
  status: string
  description: string | null
}

export interface Plan {
  case_id: string
  version: number
  actions: PlanAction[]
  review_dates: string[]
}
