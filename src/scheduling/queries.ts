import { onlyOwnAppointments } from '../auth/ownership';
import type { RequestContext } from '../context/request-context';
import type { AppointmentStatus } from '../domain/enums';
import { Appointment, CallbackRequest, PolicyConfiguration } from '../models';

/**
 * List queries of the scheduling tables, for the API to page through. Ids are local (already
 * translated); staff users see only their own appointments.
 */

export interface AppointmentSearch {
  startsFrom?: Date | null;
  startsTo?: Date | null;
  status?: readonly AppointmentStatus[] | null;
  staffId?: string | null;
  branchId?: string | null;
  customerId?: string | null;
  serviceId?: string | null;
}

export async function appointmentQuery(ctx: RequestContext, filter: AppointmentSearch) {
  const q = onlyOwnAppointments(ctx.actor, Appointment.query(await ctx.trx()));
  if (filter.startsFrom) q.where('appointments.starts_at', '>=', filter.startsFrom);
  if (filter.startsTo) q.where('appointments.starts_at', '<', filter.startsTo);
  if (filter.status?.length) q.whereIn('appointments.status', filter.status as string[]);
  if (filter.staffId) q.where('appointments.staff_id', filter.staffId);
  if (filter.branchId) q.where('appointments.branch_id', filter.branchId);
  if (filter.customerId) q.where('appointments.customer_id', filter.customerId);
  if (filter.serviceId) q.where('appointments.service_id', filter.serviceId);
  return { query: q };
}

/**
 * One appointment by local id, or null: within a staff user's own, like every appointment query
 * (other callers, the voice agent among them, see the company's).
 */
export async function findAppointment(ctx: RequestContext, id: string) {
  const q = onlyOwnAppointments(ctx.actor, Appointment.query(await ctx.trx()));
  return (await q.findById(id)) ?? null;
}

export interface CallbackRequestSearch {
  status?: readonly string[] | null;
  overdue?: boolean | null;
  assignedStaffId?: string | null;
}

export async function callbackRequestQuery(ctx: RequestContext, filter: CallbackRequestSearch) {
  const q = CallbackRequest.query(await ctx.trx());
  if (filter.status?.length) q.whereIn('status', filter.status as string[]);
  if (filter.overdue) {
    q.whereIn('status', ['pending', 'assigned', 'contacted']).where('due_at', '<', new Date());
  }
  if (filter.assignedStaffId) q.where('assigned_staff_id', filter.assignedStaffId);
  return { query: q };
}

export async function policyConfigurationQuery(ctx: RequestContext) {
  return { query: PolicyConfiguration.query(await ctx.trx()) };
}
