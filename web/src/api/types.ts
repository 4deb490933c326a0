// What the services answer, as far as the pages read it: the types openapi-typescript
// generates from each service's OpenAPI document (src/api/openapi/<service>.ts, exported from the
// services' code by `make web-contracts` and checked by `make web-check`), under the names the
// pages use. A field a page reads that a service no longer answers fails vue-tsc. Behind the
// gateway each service answers under /api/<service>/.
import type { components as CaseworkApi } from './openapi/casework'
import type { components as GatewayApi } from './openapi/gateway'
import type { components as IntakeApi } from './openapi/intake'
import type { components as NotifyApi } from './openapi/notify'

/** What a service answers of a documented schema: pydantic writes every field of a response
 *  model, a defaulted one too, which the document (its validation view) marks optional. */
export type Answered<T> = T extends readonly (infer E)[]
  ? Answered<E>[]
  : T extends object
    ? { [K in keyof T]-?: Answered<T[K]> }
    : T

type Casework = Answered<CaseworkApi['schemas']>
type Gateway = Answered<GatewayApi['schemas']>
type Intake = Answered<IntakeApi['schemas']>
type Notify = Answered<NotifyApi['schemas']>

export type Severity = Casework['Severity']
export type CaseState = Casework['CaseState']
export type Role = Casework['Role']

/** The signed-in person (`GET /auth/session`). The gateway documents `role` as a string; it is
 *  always a contract role (a session opens only for one). */
export interface User extends Omit<Gateway['UserOut'], 'role'> {
  role: Role
}

/** What the gateway answers of a session; `methods` names the sign-in methods it offers. */
export interface SessionInfo extends Omit<Gateway['SessionOut'], 'user' | 'methods'> {
  user: User | null
  methods: { local: boolean; oidc: boolean }
}

/** One number of the gateway's public campus directory (`GET /auth/campuses`, whose answer its
 *  OpenAPI document leaves as an object). */
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

export type StudentCard = Casework['StudentCardOut']
export type Receipt = Intake['ReceiptOut']
export type CaseSummary = Casework['CaseSummary']
/** An alert waiting for the reader to acknowledge (casework's `GET /v1/alerts/awaiting-me`). */
export type AwaitingAlert = Casework['AwaitingAlert']
export type AwaitingPage = Casework['AwaitingPage']
/** How many cases the reader's queue holds (`GET /v1/cases/count`, the list's filters): names no one. */
export type CaseCount = Casework['CaseCount']
/** How many alerts wait for the reader (`GET /v1/alerts/awaiting-me/count`): names no one. */
export type AwaitingCount = Casework['AwaitingCount']
export type Alert = Casework['AlertOut']
export type FollowUp = Casework['FollowUpOut']
/** What a completed follow-up found; `relieved` counts as one person-time relieved (缓解人次). */
export type FollowUpFinding = Casework['FollowUpFinding']
export const FOLLOW_UP_FINDINGS: FollowUpFinding[] = ['relieved', 'stable', 'worsened']
export type Referral = Casework['ReferralOut']
export type CaseDetail = Casework['CaseOut']
export type HistoryEntry = Casework['HistoryOut']
export type Note = Casework['NoteOut']
export type PlanAction = Casework['PlanActionOut']
export type Plan = Casework['PlanOut']
/** A page of casework's audit log (`GET /v1/audit`). */
export type AuditPage = Casework['AuditPage']
/** A page of notify's log of contact-detail reads (`GET /v1/contact-reads`). */
export type ContactReadsPage = Notify['ContactReadsPage']
/** notify's contacts imports (`GET /v1/imports`), newest first. */
export type ContactImportList = Notify['ImportList']
export type ContactImport = Notify['ImportSummary']
/** The campus's family-message settings (`GET/PUT /v1/settings/family-messages`); null: unset. */
export type FamilyMessages = Notify['FamilyMessages']
/** Casework's recent roster imports (`GET /v1/roster/imports`). */
export type RosterImportList = Casework['RosterImportList']
