/**
 * The activity log's vocabulary: every action and subject type written to `activity_logs`, as
 * constants. `ctx.audit` accepts only these, so a new kind of entry is added here once and a
 * misspelt one does not compile. Actions are `<subject>.<verb>`; the stored strings are kept as
 * they have always been written, so existing rows and filters keep their meaning.
 */
export const AUDIT = {
  apiToken: { create: 'api_token.create', revoke: 'api_token.revoke' },
  appointment: {
    /** A new appointment, whatever the channel (GraphQL, voice agent, Cal.com). */
    booked: 'appointment.booked',
    cancelled: 'appointment.cancelled',
    rescheduled: 'appointment.rescheduled',
    confirmed: 'appointment.confirmed',
    completed: 'appointment.completed',
    no_show: 'appointment.no_show',
    scheduled: 'appointment.scheduled',
  },
  auth: { login: 'auth.login', logout: 'auth.logout' },
  callbackRequest: {
    created: 'callback_request.created',
    assigned: 'callback_request.assigned',
    contacted: 'callback_request.contacted',
    completed: 'callback_request.completed',
    expired: 'callback_request.expired',
  },
  company: {
    create: 'company.create',
    update: 'company.update',
    suspend: 'company.suspend',
    reactivate: 'company.reactivate',
    retention: 'company.retention',
    seeded: 'company.seeded',
    apiPointsLimitSet: 'company.api_points_limit.set',
  },
  customer: { created: 'customer.created', export: 'customer.export', erase: 'customer.erase' },
  platform: {
    actInCompany: 'platform.act_in_company',
    listCompanies: 'platform.list_companies',
    adminCreate: 'platform_admin.create',
    adminSignIn: 'platform_admin.sign_in',
  },
  policy: { created: 'policy.created', updated: 'policy.updated', deleted: 'policy.deleted' },
  providerCredential: {
    create: 'provider_credential.create',
    revoke: 'provider_credential.revoke',
    rotate: 'provider_credential.rotate',
  },
  retellAgent: { assign: 'retell_agent.assign', update: 'retell_agent.update' },
  scheduling: { ruleOverridden: 'scheduling.rule_overridden' },
  user: {
    invite: 'user.invite',
    acceptInvitation: 'user.accept_invitation',
    passwordChange: 'user.password_change',
    rolesChange: 'user.roles_change',
    passwordReset: 'user.password_reset',
    disable: 'user.disable',
  },
  voiceAgent: {
    languageSet: 'voice_agent.language_set',
    secretCleared: 'voice_agent.secret_cleared',
    secretRotated: 'voice_agent.secret_rotated',
  },
  webhookEvent: { replay: 'webhook_event.replay', replayed: 'webhook_event.replayed' },
} as const;

/** Subject types: the model the entry is about. */
export const SUBJECT = {
  apiToken: 'ApiToken',
  appointment: 'appointment',
  branch: 'Branch',
  callbackRequest: 'callback_request',
  company: 'Company',
  customer: 'customer',
  customerRecord: 'Customer',
  customerNote: 'CustomerNote',
  phoneNumber: 'PhoneNumber',
  policyConfiguration: 'policy_configuration',
  providerCredential: 'ProviderCredential',
  retellAgent: 'RetellAgent',
  service: 'Service',
  serviceCategory: 'ServiceCategory',
  staff: 'Staff',
  user: 'User',
  userInvitation: 'UserInvitation',
  userSession: 'UserSession',
  webhookEvent: 'webhook_event',
  workingHour: 'WorkingHour',
  companyLegacy: 'company',
  userLegacy: 'user',
} as const;

type Leaves<T> = T extends string ? T : { [K in keyof T]: Leaves<T[K]> }[keyof T];

export type AuditAction = Leaves<typeof AUDIT> | CrudAuditAction;
export type SubjectType = (typeof SUBJECT)[keyof typeof SUBJECT];

/** The models written through the generic create/update/delete helpers. */
export type CrudSubject = Extract<
  SubjectType,
  | 'Branch'
  | 'Customer'
  | 'CustomerNote'
  | 'PhoneNumber'
  | 'Service'
  | 'ServiceCategory'
  | 'Staff'
  | 'User'
  | 'WorkingHour'
>;

const CRUD_PREFIX = {
  Branch: 'branch',
  Customer: 'customer',
  CustomerNote: 'customer_note',
  PhoneNumber: 'phone_number',
  Service: 'service',
  ServiceCategory: 'service_category',
  Staff: 'staff',
  User: 'user',
  WorkingHour: 'working_hour',
} as const satisfies Record<CrudSubject, string>;

export type CrudAuditAction =
  `${(typeof CRUD_PREFIX)[CrudSubject]}.${'create' | 'update' | 'delete'}`;

/** `Branch` + `create` -> `branch.create`; `ServiceCategory` -> `service_category.create`. */
export function crudAction(what: CrudSubject, op: 'create' | 'update' | 'delete'): CrudAuditAction {
  return `${CRUD_PREFIX[what]}.${op}`;
}
