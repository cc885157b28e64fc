import type { Knex } from 'knex';
import { Appointment, CalcomTeamMember, TeamEventTypeMapping } from '../models';

/**
 * The company's links to its Cal.com account, read by the Cal.com webhook effects in their
 * transaction (bound to the company): which event type maps to which service, which team member
 * is which staff member, and which appointment a Cal.com booking became.
 */

export async function eventTypeMapping(
  trx: Knex.Transaction,
  mappingId: string,
): Promise<TeamEventTypeMapping | undefined> {
  return TeamEventTypeMapping.query(trx).findById(mappingId);
}

/** The team member with this Cal.com user id (preferred) or, failing that, this email. */
export async function calcomTeamMember(
  trx: Knex.Transaction,
  organizer: { id: number | null; email: string | null | undefined },
): Promise<CalcomTeamMember | undefined> {
  return (
    (organizer.id !== null
      ? await CalcomTeamMember.query(trx).findOne({ calcom_user_id: organizer.id })
      : undefined) ??
    (organizer.email
      ? await CalcomTeamMember.query(trx).findOne({ email: organizer.email })
      : undefined)
  );
}

/** The appointment a Cal.com booking became, locked for the rest of the transaction. */
export async function appointmentByCalcomUidForUpdate(
  trx: Knex.Transaction,
  uid: string,
): Promise<Appointment | undefined> {
  return Appointment.query(trx).findOne({ calcom_booking_uid: uid }).forUpdate();
}
