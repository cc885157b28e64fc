import type { Actor } from '../context/actor';
import type { RequestContext } from '../context/request-context';
import { AppError } from '../errors/app-error';
import { ownStaffScope } from './access';

/**
 * Object-level access: what a staff-only user may see and change among the rows their role lets
 * them reach. Role and scope checks (src/auth/access.ts, the shield map) decide whether an
 * actor may use an operation at all; the functions here decide, for one row, whether it is theirs.
 * Every path that reads or changes an appointment goes through them: the `appointments` list,
 * `node`, `nodes`, `Appointment.rescheduledFrom`, and the scheduling services themselves (book,
 * reschedule, cancel, confirm, complete, no-show), so any caller of those services gets the check.
 *
 * The rule: admins, managers, super admins in a company, API tokens and system actors (voice agent,
 * webhooks) are not limited by owner. A staff-only user sees and changes only the appointments and
 * working hours of their own staff record (none when the user has no staff record), and changes or
 * deletes only the customer notes they wrote.
 *
 * Answers: a row the actor may not see is NOT_FOUND (or null from `node`), exactly like an unknown
 * or another company's id, so its existence is not revealed. Acting on something the actor can see
 * but may not change (another staff member's note, booking onto another staff member) is FORBIDDEN.
 */

export type OwnedAction = 'read' | 'write';

/** A row that belongs to one staff member (appointments, working hours). */
export interface StaffOwned {
  staffId: string | null;
}

/** Never a row id; filters a staff user without a staff record to nothing. */
const NO_STAFF = '00000000-0000-0000-0000-000000000000';

/**
 * Whether the actor may read (or change) a staff-owned row. The action is part of the signature so
 * that a future difference between reading and changing is made here, not at a call site; today a
 * staff user may do both with their own rows and neither with anyone else's.
 */
export function canAccessStaffOwned(
  actor: Actor,
  row: StaffOwned,
  _action: OwnedAction = 'read',
): boolean {
  const own = ownStaffScope(actor);
  if (own === undefined) return true;
  return own !== null && row.staffId === own;
}

/** Whether the actor may read or change this appointment. */
export const canAccessAppointment = (
  actor: Actor,
  appointment: StaffOwned,
  action: OwnedAction = 'read',
): boolean => canAccessStaffOwned(actor, appointment, action);

/**
 * Limits a query of a staff-owned table to the actor's own rows; unchanged for actors who are not
 * limited by owner. `column` is the qualified staff column, e.g. 'appointments.staff_id'.
 */
export function onlyOwnRows<Q extends { where(column: string, value: string): unknown }>(
  actor: Actor,
  query: Q,
  column: string,
): Q {
  const own = ownStaffScope(actor);
  if (own !== undefined) query.where(column, own ?? NO_STAFF);
  return query;
}

/** The appointments list and every other appointment query: a staff user's own only. */
export const onlyOwnAppointments = <Q extends { where(column: string, value: string): unknown }>(
  actor: Actor,
  query: Q,
): Q => onlyOwnRows(actor, query, 'appointments.staff_id');

/**
 * The appointment, when the actor may act on it; otherwise NOT_FOUND on `field`, the same answer
 * as for an id that names no appointment. Refusals are counted as authorization denials.
 */
export function requireAppointmentAccess<A extends StaffOwned>(
  ctx: RequestContext,
  appointment: A | null | undefined,
  action: OwnedAction,
  field = 'id',
): A {
  if (appointment && canAccessAppointment(ctx.actor, appointment, action)) return appointment;
  if (appointment) ctx.deps.metrics.authorizationDenials.inc({ rule: `own:appointment:${action}` });
  throw new AppError('NOT_FOUND', 'Appointment not found', { field });
}

/**
 * The staff member a booking or a move may go to. Actors not limited by owner get what they asked
 * for (null: the services choose a free one). A staff user books only onto their own staff record:
 * omitting the staff member means themselves, naming another is FORBIDDEN on `field`, and a staff
 * user without a staff record cannot book at all.
 */
export function bookableStaffId(
  ctx: RequestContext,
  requested: string | null,
  field = 'staffId',
): string | null {
  const own = ownStaffScope(ctx.actor);
  if (own === undefined) return requested;
  if (own !== null && (requested === null || requested === own)) return own;
  ctx.deps.metrics.authorizationDenials.inc({ rule: 'own:appointment:staff' });
  throw new AppError(
    'FORBIDDEN',
    own === null
      ? 'Your user has no staff record, so it cannot hold appointments'
      : 'Staff members book and move appointments only onto their own schedule',
    { field },
  );
}

/** A customer note as far as its author is concerned. */
export interface AuthoredNote {
  authorUserId: string | null;
}

/**
 * Whether the actor may change or delete a customer note: staff-only users their own notes, every
 * other actor allowed to write notes at all (admins, managers, super admins, customers:write
 * tokens) any note. Reading notes is decided by the `customerNotes` read permission alone.
 */
export function canChangeCustomerNote(actor: Actor, note: AuthoredNote): boolean {
  if (ownStaffScope(actor) === undefined) return true;
  return actor.kind === 'user' && note.authorUserId === actor.userId;
}

/** FORBIDDEN on `field` unless the actor may change or delete the note. */
export function requireCustomerNoteChange(
  ctx: RequestContext,
  note: AuthoredNote,
  field = 'id',
): void {
  if (canChangeCustomerNote(ctx.actor, note)) return;
  ctx.deps.metrics.authorizationDenials.inc({ rule: 'own:customerNote:write' });
  throw new AppError('FORBIDDEN', 'Staff members may change or delete only their own notes', {
    field,
  });
}
