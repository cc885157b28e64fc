import type { Actor } from '../context/actor';
import type { UserRole } from '../domain/enums';

/**
 * Who may do what, as plain predicates over the actor; graphql-shield rules and the REST routes
 * are both built from these, so a permission is decided in one place.
 *
 * Roles inside a company: admin (everything in the company), manager (branches, staff, services,
 * schedules, appointments), staff (their own schedule and appointments, read customers). A super
 * admin who has chosen a company acts there with admin rights, audited. API tokens carry scopes.
 */
export const SCOPES = [
  'appointments:read',
  'appointments:write',
  'customers:read',
  'customers:write',
  'catalog:read',
  'catalog:write',
  'calls:read',
  'callbacks:read',
  'callbacks:write',
  'policies:read',
  'dashboard:read',
  'activity:read',
] as const;
export type Scope = (typeof SCOPES)[number];

export const isSignedIn = (actor: Actor): boolean =>
  actor.kind === 'user' || actor.kind === 'api_token' || actor.kind === 'platform_admin';

export const isSuperAdmin = (actor: Actor): boolean => actor.kind === 'platform_admin';

/** True when the actor holds one of the roles in its company (a super admin counts as admin). */
export function hasRole(actor: Actor, companyId: string | null, ...roles: UserRole[]): boolean {
  if (actor.kind === 'platform_admin') return companyId !== null;
  if (actor.kind !== 'user') return false;
  return actor.roles.some((r) => roles.includes(r));
}

export const hasScope = (actor: Actor, scope: Scope): boolean =>
  actor.kind === 'api_token' && actor.scopes.includes(scope);

const STAFF_UP: UserRole[] = ['admin', 'manager', 'staff'];
const MANAGER_UP: UserRole[] = ['admin', 'manager'];
const ADMIN: UserRole[] = ['admin'];

export interface Access {
  roles: UserRole[];
  scope?: Scope;
}

/** Read and write access per resource. */
export const ACCESS = {
  company: { read: { roles: STAFF_UP }, write: { roles: ADMIN } },
  users: { read: { roles: MANAGER_UP }, write: { roles: MANAGER_UP } },
  apiTokens: { read: { roles: ADMIN }, write: { roles: ADMIN } },
  catalog: {
    read: { roles: STAFF_UP, scope: 'catalog:read' },
    write: { roles: MANAGER_UP, scope: 'catalog:write' },
  },
  customers: {
    read: { roles: STAFF_UP, scope: 'customers:read' },
    write: { roles: MANAGER_UP, scope: 'customers:write' },
  },
  customerNotes: {
    read: { roles: STAFF_UP, scope: 'customers:read' },
    write: { roles: STAFF_UP, scope: 'customers:write' },
  },
  appointments: {
    read: { roles: STAFF_UP, scope: 'appointments:read' },
    write: { roles: STAFF_UP, scope: 'appointments:write' },
  },
  /**
   * A booking that names its customer by phone (found, or created): staff take bookings from new
   * callers, so every role that books may; an API token needs customers:write as well, since the
   * booking may create (or rename) a customer and its answer tells whether the phone was known.
   */
  bookingCustomer: {
    read: { roles: STAFF_UP, scope: 'customers:read' },
    write: { roles: STAFF_UP, scope: 'customers:write' },
  },
  calls: { read: { roles: MANAGER_UP, scope: 'calls:read' }, write: { roles: ADMIN } },
  phoneNumbers: { read: { roles: MANAGER_UP }, write: { roles: ADMIN } },
  callbacks: {
    read: { roles: STAFF_UP, scope: 'callbacks:read' },
    write: { roles: STAFF_UP, scope: 'callbacks:write' },
  },
  policies: { read: { roles: STAFF_UP, scope: 'policies:read' }, write: { roles: ADMIN } },
  activity: { read: { roles: ADMIN, scope: 'activity:read' }, write: { roles: ADMIN } },
  dashboard: { read: { roles: MANAGER_UP, scope: 'dashboard:read' }, write: { roles: ADMIN } },
  webhooks: { read: { roles: ADMIN }, write: { roles: ADMIN } },
} as const satisfies Record<string, { read: Access; write: Access }>;

export type Resource = keyof typeof ACCESS;

export function allowed(actor: Actor, companyId: string | null, access: Access): boolean {
  if (!companyId) return false;
  if (hasRole(actor, companyId, ...access.roles)) return true;
  return access.scope !== undefined && hasScope(actor, access.scope);
}

export const canRead = (actor: Actor, companyId: string | null, resource: Resource): boolean =>
  allowed(actor, companyId, ACCESS[resource].read);

export const canWrite = (actor: Actor, companyId: string | null, resource: Resource): boolean =>
  allowed(actor, companyId, ACCESS[resource].write);

/** A staff-only user sees just their own appointments and schedule. */
export function ownStaffScope(actor: Actor): string | null | undefined {
  if (actor.kind !== 'user') return undefined;
  if (actor.roles.includes('admin') || actor.roles.includes('manager')) return undefined;
  return actor.staffId; // null: a staff user without a staff record sees nothing of its own
}
