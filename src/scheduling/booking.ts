import { bookableStaffId } from '../auth/ownership';
import { translateDbError } from '../db/errors';
import type { Knex } from 'knex';
import { DateTime } from 'luxon';
import type { RequestContext } from '../context/request-context';
import {
  APPOINTMENT_SOURCES,
  type AppointmentSource,
  type AppointmentStatus,
} from '../domain/enums';
import { AUDIT, SUBJECT } from '../domain/audit';
import {
  applyCustomerPlan,
  planCustomer,
  type CustomerPlan,
} from '../domain/customers/customer.service';
import { AppError } from '../errors/app-error';
import { Appointment, Customer, Service } from '../models';
import { bookingWindow } from './availability';
import {
  loadSchedules,
  loadScope,
  noStaffError,
  type LoadedSchedules,
  type SchedulingScope,
} from './data';
import {
  auditOverrides,
  checkOverride,
  enforceRules,
  type OverrideInput,
  type RuleViolation,
} from './overrides';
import type { BookingPolicy } from './policies';
import { evaluateStart } from './slots';
import { checkTimeWindow, parseInstant, userIdOf } from './support';
import { badInput, notFound } from '../errors/app-error';
import { optionalId, requireId } from '../domain/ids';
import { optionalText } from '../domain/text';
import { HOUR_MS } from './time';

export interface BookingCustomerInput {
  /** Any format; national numbers are read with the company's default region. */
  phone?: string | null;
  name?: string | null;
  email?: string | null;
  preferredLanguage?: string | null;
}

/**
 * A booking a calendar provider (Cal.com) has already made and confirmed. The provider is the
 * source of truth for its own bookings: its times, host and status are recorded as given, and the
 * local booking policy and availability rules are not applied (refusing would only leave our
 * records wrong, the booking exists either way). The double-booking constraint still holds: an
 * overlap for the same staff member is CONFLICT. See docs/scheduling.md.
 */
export interface ProviderBooking {
  calcomBookingUid: string;
  endsAt: Date;
  /** The host who got the booking, or the event type's default. */
  staffId: string | null;
  branchId: string | null;
  status: AppointmentStatus;
  /** For a booking recorded as cancelled: who and why. */
  cancellation?: { by: string; reason: string | null } | null;
  /** The attendee's email is verified by the provider and may identify a customer. */
  emailVerified?: boolean;
}

export interface BookAppointmentInput {
  serviceId: string;
  /** Omitted: the least busy free staff member who performs the service. */
  staffId?: string | null;
  branchId?: string | null;
  /** A Date or an ISO 8601 date-time with offset. */
  startsAt: Date | string;
  /** Found by phone within the company, or created. Give this or customerId. */
  customer?: BookingCustomerInput | null;
  customerId?: string | null;
  source: AppointmentSource;
  callId?: string | null;
  notes?: string | null;
  /** Sets policy and availability rules aside; admins and managers only, with a reason. */
  override?: OverrideInput | null;
  /** The current time; for tests and replays. */
  now?: Date;
  /** Set when a provider already made the booking (webhook path). */
  provider?: ProviderBooking | null;
}

export interface BookingResult {
  appointment: Appointment;
  customer: Customer;
  customerCreated: boolean;
  /** The branch's time zone, for reading the time back to the customer. */
  timeZone: string;
  /** Rules set aside by an override. */
  overriddenRules: string[];
}

export const APPOINTMENT_FK_FIELDS: Record<string, string> = {
  appointments_call_id_fkey: 'callId',
  appointments_customer_id_fkey: 'customerId',
  appointments_service_id_fkey: 'serviceId',
  appointments_staff_id_fkey: 'staffId',
  appointments_branch_id_fkey: 'branchId',
  appointments_created_by_user_id_fkey: 'createdByUserId',
};

const MAX_NOTES = 2000;

/** Notice and horizon of the booking policy for a start time. */
export function bookingPolicyViolations(
  policy: BookingPolicy,
  startsAt: Date,
  now: Date,
): RuleViolation[] {
  const out: RuleViolation[] = [];
  const { earliest, latest } = bookingWindow(policy, now);
  if (startsAt.getTime() < earliest.getTime()) {
    out.push({
      rule: 'booking.minNoticeHours',
      field: 'startsAt',
      message: `Bookings need at least ${policy.minNoticeHours} hours' notice`,
      limit: policy.minNoticeHours,
      actual: round2((startsAt.getTime() - now.getTime()) / HOUR_MS),
    });
  }
  if (startsAt.getTime() > latest.getTime()) {
    out.push({
      rule: 'booking.horizonDays',
      field: 'startsAt',
      message: `Bookings can be made at most ${policy.horizonDays} days ahead`,
      limit: policy.horizonDays,
      actual: round2((startsAt.getTime() - now.getTime()) / (24 * HOUR_MS)),
    });
  }
  return out;
}

const round2 = (n: number) => Math.round(n * 100) / 100;

/** Per-customer limits of the booking policy; one query, and only when a limit is set. */
export async function customerLimitViolations(
  trx: Knex.Transaction,
  policy: BookingPolicy,
  customerId: string | null,
  startsAt: Date,
  timeZone: string,
  now: Date,
  options: { excludeAppointmentId?: string; checkActive?: boolean } = {},
): Promise<RuleViolation[]> {
  const checkActive = options.checkActive !== false && policy.maxActivePerCustomer !== null;
  if (!customerId || (policy.maxPerCustomerPerDay === null && !checkActive)) return [];
  const day = DateTime.fromJSDate(startsAt, { zone: timeZone }).startOf('day');
  const dayStart = day.toJSDate();
  const dayEnd = day.plus({ days: 1 }).startOf('day').toJSDate();
  const q = Appointment.query(trx)
    .select(
      trx.raw('count(*) filter (where starts_at >= ? and starts_at < ?)::int as same_day', [
        dayStart,
        dayEnd,
      ]),
      trx.raw(
        `count(*) filter (where status in ('scheduled','confirmed') and ends_at > ?)::int as active`,
        [now],
      ),
    )
    .where('customer_id', customerId)
    .whereNot('status', 'cancelled');
  if (options.excludeAppointmentId) q.whereNot('appointments.id', options.excludeAppointmentId);
  const row = (await q.first()) as unknown as { sameDay: number; active: number } | undefined;
  const out: RuleViolation[] = [];
  const max = policy.maxPerCustomerPerDay;
  if (max !== null && (row?.sameDay ?? 0) >= max) {
    out.push({
      rule: 'booking.maxPerCustomerPerDay',
      field: 'startsAt',
      message: `A customer can have at most ${max} appointment${max === 1 ? '' : 's'} a day`,
      limit: max,
      actual: row?.sameDay ?? 0,
    });
  }
  const maxActive = policy.maxActivePerCustomer;
  if (checkActive && maxActive !== null && (row?.active ?? 0) >= maxActive) {
    out.push({
      rule: 'booking.maxActivePerCustomer',
      field: 'customerId',
      message: `A customer can have at most ${maxActive} upcoming appointment${maxActive === 1 ? '' : 's'}`,
      limit: maxActive,
      actual: row?.active ?? 0,
    });
  }
  return out;
}

export interface StaffChoice {
  staffId: string;
  violations: RuleViolation[];
}

/**
 * The staff member to book: among the candidates not booked at that time, the one with the fewest
 * broken availability rules (none, without an override), then `preferred`, then the one with the
 * fewest appointments that day, then by name. Null when every candidate is booked.
 */
export function chooseStaff(
  scope: SchedulingScope,
  loaded: LoadedSchedules,
  startsAt: Date,
  durationMinutes: number,
  bufferMinutes: number,
  preferred?: string | null,
): StaffChoice | null {
  const named = scope.candidates.length === 1;
  const options = scope.candidates.flatMap((c, index) => {
    const schedule = loaded.schedules.get(c.id) ?? { staffId: c.id, workingHours: [], busy: [] };
    const ev = evaluateStart(schedule, startsAt, durationMinutes, bufferMinutes);
    if (ev.conflicts.includes('appointment')) return [];
    const violations: RuleViolation[] = [];
    if (!ev.withinWorkingHours) {
      violations.push({
        rule: 'availability.workingHours',
        field: 'startsAt',
        message: named
          ? `${c.name} does not work at that time`
          : `No one offers "${scope.service.name}" at that time`,
      });
    }
    if (ev.conflicts.includes('time_off')) {
      violations.push({
        rule: 'availability.timeOff',
        field: 'startsAt',
        message: named
          ? `${c.name} is away at that time`
          : `No one who offers "${scope.service.name}" is available at that time`,
      });
    }
    return [{ staffId: c.id, violations, index, count: loaded.appointmentCounts.get(c.id) ?? 0 }];
  });
  if (options.length === 0) return null;
  options.sort(
    (a, b) =>
      a.violations.length - b.violations.length ||
      Number(b.staffId === preferred) - Number(a.staffId === preferred) ||
      a.count - b.count ||
      a.index - b.index,
  );
  return { staffId: options[0].staffId, violations: options[0].violations };
}

export function slotTakenError(ctx: RequestContext, source: AppointmentSource): AppError {
  ctx.deps.metrics.bookingConflicts.inc({ source });
  return new AppError('CONFLICT', 'That time is already booked; please choose another time', {
    field: 'startsAt',
    details: { reason: 'SLOT_TAKEN' },
  });
}

/** Loads schedules for the local day of `startsAt`, so the choice can spread the day's work. */
export async function schedulesAround(
  trx: Knex.Transaction,
  scope: SchedulingScope,
  startsAt: Date,
  occupiedMinutes: number,
  excludeAppointmentId?: string,
): Promise<LoadedSchedules> {
  const day = DateTime.fromJSDate(startsAt, { zone: scope.timeZone }).startOf('day');
  const from = new Date(Math.min(day.toMillis(), startsAt.getTime()));
  const to = new Date(
    Math.max(day.plus({ days: 1 }).startOf('day').toMillis(), startsAt.getTime() + 1),
  );
  return loadSchedules(trx, scope, { from, to, occupiedMinutes, excludeAppointmentId });
}

/** Who the booking is for: the given customer id, or the contact found or planned by phone. */
async function customerPlanOf(
  ctx: RequestContext,
  trx: Knex.Transaction,
  input: BookAppointmentInput,
): Promise<CustomerPlan> {
  const hasCustomer = input.customer !== undefined && input.customer !== null;
  const hasId = input.customerId !== undefined && input.customerId !== null;
  if (hasCustomer === hasId) {
    throw badInput('customer', 'Give either customer (phone, name, email) or customerId');
  }
  if (hasId) {
    const id = requireId(input.customerId, 'customerId', 'Customer');
    const existing = await Customer.query(trx).findById(id);
    if (!existing) throw notFound('Customer', 'customerId');
    return { existing, create: null, patch: {}, fillIfFree: {} };
  }
  const provider = input.provider ?? null;
  return planCustomer(ctx, trx, input.customer!, {
    strict: provider === null,
    emailVerified: provider?.emailVerified === true,
  });
}

interface Placement {
  staffId: string | null;
  branchId: string | null;
  endsAt: Date;
  bufferMinutes: number;
  priceCents: number | null;
  status: AppointmentStatus;
  timeZone: string;
  overridden: RuleViolation[];
}

/** Where and when a provider's booking goes: as the provider made it. */
async function providerPlacement(
  trx: Knex.Transaction,
  serviceId: string,
  provider: ProviderBooking,
): Promise<Placement> {
  const service = await Service.query(trx).findById(serviceId).select('price_cents');
  if (!service) throw notFound('Service', 'serviceId');
  return {
    staffId: provider.staffId,
    branchId: provider.branchId,
    endsAt: provider.endsAt,
    // Stored as the provider made it: no local buffer around it (see "Buffers in the database").
    bufferMinutes: 0,
    priceCents: service.priceCents ?? null,
    status: provider.status,
    timeZone: 'UTC',
    overridden: [],
  };
}

/**
 * Books an appointment: checks the service, the time (not past, booking policy, availability of
 * the staff member, chosen when not given), the customer's limits, then writes customer and
 * appointment in one unit of work. A booking that loses a race for the same time is CONFLICT.
 * GraphQL, the voice agent and Cal.com bookings (`provider`) all come through here.
 */
export async function bookAppointment(
  ctx: RequestContext,
  input: BookAppointmentInput,
): Promise<BookingResult> {
  if (!(APPOINTMENT_SOURCES as readonly string[]).includes(input.source)) {
    throw badInput('source', `source must be one of ${APPOINTMENT_SOURCES.join(', ')}`);
  }
  const source = input.source;
  const provider = input.provider ?? null;
  const serviceId = requireId(input.serviceId, 'serviceId', 'Service');
  const staffId = bookableStaffId(
    ctx,
    optionalId(input.staffId, 'staffId', 'Staff member'),
    'staffId',
  );
  const branchId = optionalId(input.branchId, 'branchId', 'Branch');
  const callId = optionalId(input.callId, 'callId', 'Call');
  const notes = provider
    ? (optionalText(input.notes?.slice(0, MAX_NOTES), 'notes', MAX_NOTES) ?? null)
    : (optionalText(input.notes, 'notes', MAX_NOTES) ?? null);
  const startsAt = parseInstant(input.startsAt, 'startsAt');
  const now = input.now ?? new Date();
  if (!provider) {
    checkTimeWindow('startsAt', startsAt, null, now);
    if (startsAt.getTime() < now.getTime()) {
      throw badInput('startsAt', 'That time is in the past');
    }
  }
  const grant = provider ? null : checkOverride(ctx, input.override);

  const trx = await ctx.trx();
  let plan: CustomerPlan;
  let placement: Placement;
  if (provider) {
    placement = await providerPlacement(trx, serviceId, provider);
    plan = await customerPlanOf(ctx, trx, input);
  } else {
    const scope = await loadScope(ctx, trx, {
      serviceId,
      staffId,
      branchId,
      policyTypes: ['booking'],
    });
    if (scope.candidates.length === 0) throw noStaffError(scope);
    plan = await customerPlanOf(ctx, trx, input);
    placement = await policyPlacement(ctx, trx, scope, plan, startsAt, now, grant, source);
  }
  const { overridden, status } = placement;

  let result: BookingResult;
  try {
    result = await ctx.unitOfWork(async (inner) => {
      const { customer, created: customerCreated } = await applyCustomerPlan(
        ctx,
        inner,
        plan,
        { via: 'booking', source },
        provider?.emailVerified === true,
      );
      const cancellation = provider?.cancellation ?? null;
      const appointment = await Appointment.query(inner)
        .insert({
          customerId: customer.id,
          serviceId,
          staffId: placement.staffId,
          branchId: placement.branchId,
          callId,
          createdByUserId: userIdOf(ctx.actor),
          startsAt,
          endsAt: placement.endsAt,
          bufferMinutes: placement.bufferMinutes,
          status,
          source,
          notes,
          priceCents: placement.priceCents,
          ...(provider ? { calcomBookingUid: provider.calcomBookingUid } : {}),
          ...(status === 'confirmed' ? { confirmedAt: now } : {}),
          ...(cancellation
            ? {
                cancelledAt: now,
                cancelledBy: cancellation.by,
                cancellationReason: cancellation.reason,
              }
            : {}),
        })
        .returning('*');
      await ctx.audit({
        action: AUDIT.appointment.booked,
        subjectType: SUBJECT.appointment,
        subjectId: appointment.id,
        reason: grant?.reason ?? null,
        details: {
          serviceId,
          staffId: placement.staffId,
          customerId: customer.id,
          startsAt: startsAt.toISOString(),
          endsAt: placement.endsAt.toISOString(),
          source,
          ...(callId ? { callId } : {}),
          ...(provider ? { calcomBookingUid: provider.calcomBookingUid, status } : {}),
          ...(overridden.length > 0 ? { overriddenRules: overridden.map((v) => v.rule) } : {}),
        },
      });
      await auditOverrides(ctx, overridden, grant, {
        type: SUBJECT.appointment,
        id: appointment.id,
        operation: 'book',
      });
      return {
        appointment,
        customer,
        customerCreated,
        timeZone: placement.timeZone,
        overriddenRules: overridden.map((v) => v.rule),
      };
    });
  } catch (err) {
    throw bookingWriteError(ctx, err, source);
  }
  // A provider's booking is counted by its caller once the event's transaction has committed.
  if (!provider) ctx.deps.metrics.appointmentsBooked.inc({ source });
  return result;
}

/** Where and when a booking made here goes: the booking policy, limits and availability apply. */
async function policyPlacement(
  ctx: RequestContext,
  trx: Knex.Transaction,
  scope: SchedulingScope,
  plan: CustomerPlan,
  startsAt: Date,
  now: Date,
  grant: ReturnType<typeof checkOverride>,
  source: AppointmentSource,
): Promise<Placement> {
  const service = scope.service;
  const policy = scope.policies.booking!.config;

  const violations = bookingPolicyViolations(policy, startsAt, now);
  if (violations.length > 0) enforceRules(violations, grant);
  violations.push(
    ...(await customerLimitViolations(
      trx,
      policy,
      plan.existing?.id ?? null,
      startsAt,
      scope.timeZone,
      now,
    )),
  );
  if (violations.length > 0) enforceRules(violations, grant);

  const occupied = service.durationMinutes + service.bufferMinutes;
  const loaded = await schedulesAround(trx, scope, startsAt, occupied);
  const choice = chooseStaff(
    scope,
    loaded,
    startsAt,
    service.durationMinutes,
    service.bufferMinutes,
  );
  if (!choice) throw slotTakenError(ctx, source);
  violations.push(...choice.violations);
  const overridden = enforceRules(violations, grant);
  return {
    staffId: choice.staffId,
    branchId:
      scope.branchId ?? scope.candidates.find((c) => c.id === choice.staffId)?.branchId ?? null,
    endsAt: new Date(startsAt.getTime() + service.durationMinutes * 60_000),
    bufferMinutes: service.bufferMinutes,
    priceCents: service.priceCents,
    status: 'scheduled',
    timeZone: scope.timeZone,
    overridden,
  };
}

/** A failed appointment write as a client error; a lost race is counted as a booking conflict. */
export function bookingWriteError(
  ctx: RequestContext,
  err: unknown,
  source: AppointmentSource,
): unknown {
  if (err instanceof AppError) return err;
  try {
    translateDbError(err, APPOINTMENT_FK_FIELDS);
  } catch (mapped) {
    if (mapped instanceof AppError && mapped.details?.reason === 'SLOT_TAKEN') {
      return slotTakenError(ctx, source);
    }
    return mapped;
  }
}
