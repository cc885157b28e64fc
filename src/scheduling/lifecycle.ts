import type { Knex } from 'knex';
import { bookableStaffId, requireAppointmentAccess } from '../auth/ownership';
import type { RequestContext } from '../context/request-context';
import {
  APPOINTMENT_SOURCES,
  type AppointmentSource,
  type AppointmentStatus,
} from '../domain/enums';
import { Appointment } from '../models';
import { AUDIT, SUBJECT } from '../domain/audit';
import { nextStatus, type AppointmentAction } from './appointment-state';
import {
  bookingPolicyViolations,
  bookingWriteError,
  chooseStaff,
  customerLimitViolations,
  schedulesAround,
  slotTakenError,
} from './booking';
import { loadScope, noStaffError } from './data';
import {
  auditOverrides,
  checkOverride,
  enforceRules,
  type OverrideInput,
  type RuleViolation,
} from './overrides';
import { loadEffectivePolicies } from './policies';
import { actorLabel } from '../context/actor';
import { checkTimeWindow, parseInstant, sourceOfActor, userIdOf } from './support';
import { badInput } from '../errors/app-error';
import { optionalId, requireId } from '../domain/ids';
import { optionalText } from '../domain/text';
import { HOUR_MS, MINUTE_MS } from './time';

/**
 * Changes to booked appointments. Every change locks the appointment row first (`FOR UPDATE`), so
 * two people changing the same appointment at once are applied one after the other and the second
 * sees the state the first left.
 */

export interface LifecycleOptions {
  /** The current time; for tests and replays. */
  now?: Date;
}

/** Locks the appointment; one the actor may not change is NOT_FOUND like a missing one. */
async function lockAppointment(
  ctx: RequestContext,
  trx: Knex.Transaction,
  id: string,
): Promise<Appointment> {
  const appointment = await Appointment.query(trx).findById(id).forUpdate();
  return requireAppointmentAccess(ctx, appointment, 'write', 'id');
}

async function simpleTransition(
  ctx: RequestContext,
  rawId: string,
  action: Exclude<AppointmentAction, 'cancel' | 'reschedule'>,
  options: LifecycleOptions,
): Promise<Appointment> {
  const id = requireId(rawId, 'id', 'Appointment');
  const now = options.now ?? new Date();
  return ctx.unitOfWork(async (trx) => {
    const current = await lockAppointment(ctx, trx, id);
    const from = current.status;
    const status = nextStatus(current, action, now);
    // patchAndFetch updates the instance it is called on; `from` keeps the old status.
    const updated = await current
      .$query(trx)
      .patchAndFetch(action === 'confirm' ? { status, confirmedAt: now } : { status });
    await ctx.audit({
      action: `appointment.${status}`,
      subjectType: 'appointment',
      subjectId: id,
      details: { from, to: status, at: now.toISOString() },
    });
    return updated;
  });
}

/** scheduled -> confirmed, until the appointment is over. */
export function confirmAppointment(
  ctx: RequestContext,
  id: string,
  options: LifecycleOptions = {},
): Promise<Appointment> {
  return simpleTransition(ctx, id, 'confirm', options);
}

/** scheduled | confirmed -> completed, once the appointment has started. */
export function completeAppointment(
  ctx: RequestContext,
  id: string,
  options: LifecycleOptions = {},
): Promise<Appointment> {
  return simpleTransition(ctx, id, 'complete', options);
}

/** scheduled | confirmed -> no_show, once the appointment has started. */
export function markNoShow(
  ctx: RequestContext,
  id: string,
  options: LifecycleOptions = {},
): Promise<Appointment> {
  return simpleTransition(ctx, id, 'no_show', options);
}

function sourceOf(
  ctx: RequestContext,
  value: AppointmentSource | null | undefined,
): AppointmentSource {
  if (value === undefined || value === null) return sourceOfActor(ctx.actor);
  if (!(APPOINTMENT_SOURCES as readonly string[]).includes(value)) {
    throw badInput('source', `source must be one of ${APPOINTMENT_SOURCES.join(', ')}`);
  }
  return value;
}

export interface CancelAppointmentInput extends LifecycleOptions {
  reason?: string | null;
  /** Sets the notice rule aside, or waives the late fee; admins and managers only. */
  override?: OverrideInput | null;
  /** Channel of the cancellation, for metrics; default from the actor. */
  source?: AppointmentSource | null;
  /**
   * Cancelled at a calendar provider (Cal.com): recorded as the provider says, whatever the local
   * state and cancellation policy (see docs/scheduling.md); `by` is who the provider names.
   */
  provider?: { by: string; calcomBookingUid: string } | null;
}

export interface CancellationResult {
  appointment: Appointment;
  /** Cancelled later than the policy's notice. */
  late: boolean;
  /** Fee due under the cancellation policy; 0 when none. */
  feeCents: number;
  overriddenRules: string[];
}

/**
 * scheduled | confirmed -> cancelled, recording who, when and why. Cancelling later than the
 * policy's notice is allowed with the policy's fee when it has one, and refused when it has none;
 * an override allows it without a fee.
 */
export async function cancelAppointment(
  ctx: RequestContext,
  rawId: string,
  input: CancelAppointmentInput = {},
): Promise<CancellationResult> {
  const id = requireId(rawId, 'id', 'Appointment');
  const provider = input.provider ?? null;
  const reason = provider
    ? (optionalText(input.reason?.slice(0, 500), 'reason', 500) ?? null)
    : (optionalText(input.reason, 'reason', 500) ?? null);
  const source = sourceOf(ctx, input.source);
  const grant = provider ? null : checkOverride(ctx, input.override);
  const now = input.now ?? new Date();
  const result = await ctx.unitOfWork(async (trx) => {
    const current = await lockAppointment(ctx, trx, id);
    const from = current.status;
    if (provider) return providerCancel(ctx, trx, current, reason, source, now, provider);
    const status = nextStatus(current, 'cancel', now);
    const { cancellation: policy } = await loadEffectivePolicies(trx, ['cancellation'], {
      branchId: current.branchId,
      serviceId: current.serviceId,
    });
    const hoursBefore = (current.startsAt.getTime() - now.getTime()) / HOUR_MS;
    const late = hoursBefore < policy.config.minNoticeHours;
    const violations: RuleViolation[] = [];
    let feeCents = 0;
    if (late && policy.config.feeCents === null) {
      violations.push({
        rule: 'cancellation.minNoticeHours',
        field: 'id',
        message: `Appointments can be cancelled until ${policy.config.minNoticeHours} hours before they start`,
        limit: policy.config.minNoticeHours,
        actual: Math.round(hoursBefore * 100) / 100,
      });
    } else if (late && policy.config.feeCents !== null) {
      feeCents = policy.config.feeCents;
      if (grant && feeCents > 0) {
        violations.push({
          rule: 'cancellation.feeCents',
          field: 'override',
          message: 'The late cancellation fee was waived',
          limit: feeCents,
          actual: 0,
        });
        feeCents = 0;
      }
    }
    const overridden = enforceRules(violations, grant);
    const updated = await current.$query(trx).patchAndFetch({
      status,
      cancelledAt: now,
      cancelledBy: actorLabel(ctx.actor),
      cancellationReason: reason,
    });
    await ctx.audit({
      action: 'appointment.cancelled',
      subjectType: 'appointment',
      subjectId: id,
      reason,
      details: {
        from,
        source,
        late,
        feeCents,
        hoursBeforeStart: Math.round(hoursBefore * 100) / 100,
        policy: { minNoticeHours: policy.config.minNoticeHours, feeCents: policy.config.feeCents },
        ...(overridden.length > 0 ? { overriddenRules: overridden.map((v) => v.rule) } : {}),
      },
    });
    await auditOverrides(ctx, overridden, grant, { type: 'appointment', id, operation: 'cancel' });
    return { appointment: updated, late, feeCents, overriddenRules: overridden.map((v) => v.rule) };
  });
  // A provider's cancellation is counted by its caller once the event's transaction commits.
  if (!provider) ctx.deps.metrics.appointmentsCancelled.inc({ source });
  return result;
}

async function providerCancel(
  ctx: RequestContext,
  trx: Knex.Transaction,
  current: Appointment,
  reason: string | null,
  source: AppointmentSource,
  now: Date,
  provider: { by: string; calcomBookingUid: string },
): Promise<CancellationResult> {
  const from = current.status;
  const updated = await current.$query(trx).patchAndFetch({
    status: 'cancelled',
    cancelledAt: now,
    cancelledBy: provider.by,
    cancellationReason: reason,
  });
  await ctx.audit({
    action: AUDIT.appointment.cancelled,
    subjectType: SUBJECT.appointment,
    subjectId: current.id,
    reason,
    details: { from, source, calcomBookingUid: provider.calcomBookingUid },
  });
  return { appointment: updated, late: false, feeCents: 0, overriddenRules: [] };
}

export interface RescheduleAppointmentInput extends LifecycleOptions {
  /** A Date or an ISO 8601 date-time with offset. */
  startsAt: Date | string;
  /** Omitted: the same staff member when free, else another who performs the service. */
  staffId?: string | null;
  override?: OverrideInput | null;
  source?: AppointmentSource | null;
  /** Rescheduled at a calendar provider (Cal.com); see `ProviderReschedule`. */
  provider?: ProviderReschedule | null;
}

/**
 * A reschedule a calendar provider already made: the old appointment is cancelled (unless it
 * already is) and the new booking takes the provider's times, host and status, linked to the old
 * one; the rescheduling and booking policies are not applied (docs/scheduling.md).
 */
export interface ProviderReschedule {
  calcomBookingUid: string;
  endsAt: Date;
  staffId: string | null;
  branchId: string | null;
  status: AppointmentStatus;
  notes: string | null;
  /** Who the provider names as having moved it. */
  by: string;
  /** The new booking is already recorded (its creation arrived first): link it, insert nothing. */
  existingAppointmentId?: string | null;
}

export interface RescheduleResult {
  /** The new appointment, linked to the old one by rescheduledFromId. */
  appointment: Appointment;
  /** The old appointment, now cancelled with reason 'rescheduled'. */
  previous: Appointment;
  overriddenRules: string[];
}

/**
 * Moves an appointment by replacing it, so history is kept: the old row is cancelled with reason
 * 'rescheduled' and a new one, linked by rescheduled_from_id with reschedule_count + 1, takes the
 * new time. Both happen in one unit of work; the old one is cancelled first so that a small shift
 * may overlap the old time. The rescheduling policy (notice before the current start, maximum
 * number of moves) and the booking policy and availability for the new time all apply.
 */
export async function rescheduleAppointment(
  ctx: RequestContext,
  rawId: string,
  input: RescheduleAppointmentInput,
): Promise<RescheduleResult> {
  const id = requireId(rawId, 'id', 'Appointment');
  const startsAt = parseInstant(input.startsAt, 'startsAt');
  const staffId = bookableStaffId(
    ctx,
    optionalId(input.staffId, 'staffId', 'Staff member'),
    'staffId',
  );
  const source = sourceOf(ctx, input.source);
  const provider = input.provider ?? null;
  const grant = provider ? null : checkOverride(ctx, input.override);
  const now = input.now ?? new Date();
  if (!provider) {
    checkTimeWindow('startsAt', startsAt, null, now);
    if (startsAt.getTime() < now.getTime()) throw badInput('startsAt', 'That time is in the past');
  }

  let result: RescheduleResult;
  try {
    result = await ctx.unitOfWork(async (trx) => {
      const old = await lockAppointment(ctx, trx, id);
      if (provider) return providerReschedule(ctx, trx, old, startsAt, source, now, provider);
      nextStatus(old, 'reschedule', now);
      const scope = await loadScope(ctx, trx, {
        serviceId: old.serviceId,
        staffId,
        branchId: old.branchId,
        policyTypes: ['booking', 'rescheduling'],
        allowArchived: true,
      });
      if (scope.candidates.length === 0) throw noStaffError(scope);
      const rescheduling = scope.policies.rescheduling!.config;
      const booking = scope.policies.booking!.config;

      const violations: RuleViolation[] = [];
      const hoursBefore = (old.startsAt.getTime() - now.getTime()) / HOUR_MS;
      if (hoursBefore < rescheduling.minNoticeHours) {
        violations.push({
          rule: 'rescheduling.minNoticeHours',
          field: 'id',
          message: `Appointments can be moved until ${rescheduling.minNoticeHours} hours before they start`,
          limit: rescheduling.minNoticeHours,
          actual: Math.round(hoursBefore * 100) / 100,
        });
      }
      if (old.rescheduleCount >= rescheduling.maxReschedules) {
        violations.push({
          rule: 'rescheduling.maxReschedules',
          field: 'id',
          message: `An appointment can be moved at most ${rescheduling.maxReschedules} times`,
          limit: rescheduling.maxReschedules,
          actual: old.rescheduleCount,
        });
      }
      violations.push(...bookingPolicyViolations(booking, startsAt, now));
      if (violations.length > 0) enforceRules(violations, grant);
      violations.push(
        ...(await customerLimitViolations(
          trx,
          booking,
          old.customerId,
          startsAt,
          scope.timeZone,
          now,
          {
            excludeAppointmentId: old.id,
            checkActive: false,
          },
        )),
      );
      if (violations.length > 0) enforceRules(violations, grant);

      // Cancelled first: the old time no longer blocks the new one.
      const previous = await old.$query(trx).patchAndFetch({
        status: 'cancelled',
        cancelledAt: now,
        cancelledBy: actorLabel(ctx.actor),
        cancellationReason: 'rescheduled',
      });

      const durationMinutes = Math.round(
        (old.endsAt.getTime() - old.startsAt.getTime()) / MINUTE_MS,
      );
      const loaded = await schedulesAround(
        trx,
        scope,
        startsAt,
        durationMinutes + old.bufferMinutes,
      );
      const choice = chooseStaff(
        scope,
        loaded,
        startsAt,
        durationMinutes,
        old.bufferMinutes,
        old.staffId,
      );
      if (!choice) throw slotTakenError(ctx, source);
      violations.push(...choice.violations);
      const overridden = enforceRules(violations, grant);

      const staff = scope.candidates.find((c) => c.id === choice.staffId);
      const appointment = await Appointment.query(trx)
        .insert({
          customerId: old.customerId,
          serviceId: old.serviceId,
          staffId: choice.staffId,
          branchId: old.branchId ?? staff?.branchId ?? null,
          callId: old.callId,
          createdByUserId: userIdOf(ctx.actor) ?? old.createdByUserId,
          startsAt,
          endsAt: new Date(startsAt.getTime() + durationMinutes * MINUTE_MS),
          bufferMinutes: old.bufferMinutes,
          status: 'scheduled',
          source: old.source,
          notes: old.notes,
          priceCents: old.priceCents,
          rescheduleCount: old.rescheduleCount + 1,
          rescheduledFromId: old.id,
        })
        .returning('*');

      await auditMove(ctx, old, appointment, {
        source,
        reason: grant?.reason ?? null,
        booked: true,
        extra: overridden.length > 0 ? { overriddenRules: overridden.map((v) => v.rule) } : {},
      });
      await auditOverrides(ctx, overridden, grant, {
        type: 'appointment',
        id: appointment.id,
        operation: 'reschedule',
      });
      return { appointment, previous, overriddenRules: overridden.map((v) => v.rule) };
    });
  } catch (err) {
    throw bookingWriteError(ctx, err, source);
  }
  // A provider's reschedule is counted by its caller once the event's transaction commits.
  if (!provider) ctx.deps.metrics.appointmentsRescheduled.inc({ source });
  return result;
}

async function providerReschedule(
  ctx: RequestContext,
  trx: Knex.Transaction,
  old: Appointment,
  startsAt: Date,
  source: AppointmentSource,
  now: Date,
  provider: ProviderReschedule,
): Promise<RescheduleResult> {
  // Freed first, so the new time may overlap the old one for the same staff member.
  const previous =
    old.status === 'cancelled'
      ? old
      : await old.$query(trx).patchAndFetch({
          status: 'cancelled',
          cancelledAt: now,
          cancelledBy: provider.by,
          cancellationReason: 'rescheduled',
        });
  const rescheduleCount = old.rescheduleCount + 1;
  let appointment: Appointment;
  if (provider.existingAppointmentId) {
    appointment = await Appointment.query(trx).patchAndFetchById(provider.existingAppointmentId, {
      rescheduledFromId: old.id,
      rescheduleCount,
    });
    await propagateRescheduleCounts(trx, appointment);
  } else {
    appointment = await Appointment.query(trx)
      .insert({
        customerId: old.customerId,
        serviceId: old.serviceId,
        staffId: provider.staffId,
        branchId: provider.branchId,
        startsAt,
        endsAt: provider.endsAt,
        status: provider.status,
        source,
        notes: provider.notes,
        priceCents: old.priceCents,
        calcomBookingUid: provider.calcomBookingUid,
        ...(provider.status === 'confirmed' ? { confirmedAt: now } : {}),
        rescheduleCount,
        rescheduledFromId: old.id,
      })
      .returning('*');
  }
  await auditMove(ctx, old, appointment, {
    source,
    reason: null,
    // A linked booking was audited as booked when its own creation arrived.
    booked: !provider.existingAppointmentId,
    extra: { calcomBookingUid: provider.calcomBookingUid },
  });
  return { appointment, previous, overriddenRules: [] };
}

/** The activity log of a move: `rescheduled` on the old appointment, `booked` on the new one. */
async function auditMove(
  ctx: RequestContext,
  old: Appointment,
  appointment: Appointment,
  options: {
    source: AppointmentSource;
    reason: string | null;
    booked: boolean;
    extra: Record<string, unknown>;
  },
): Promise<void> {
  const move = {
    fromAppointmentId: old.id,
    toAppointmentId: appointment.id,
    fromStartsAt: old.startsAt.toISOString(),
    toStartsAt: appointment.startsAt.toISOString(),
    fromStaffId: old.staffId,
    toStaffId: appointment.staffId,
    rescheduleCount: appointment.rescheduleCount,
    source: options.source,
    ...options.extra,
  };
  await ctx.audit({
    action: AUDIT.appointment.rescheduled,
    subjectType: SUBJECT.appointment,
    subjectId: old.id,
    reason: options.reason,
    details: move,
  });
  if (options.booked) {
    await ctx.audit({
      action: AUDIT.appointment.booked,
      subjectType: SUBJECT.appointment,
      subjectId: appointment.id,
      reason: options.reason,
      details: { ...move, via: 'reschedule' },
    });
  }
}

/** Keeps reschedule_count = parent's + 1 down a chain that was linked out of order. */
async function propagateRescheduleCounts(
  trx: Knex.Transaction,
  parent: { id: string; rescheduleCount: number },
): Promise<void> {
  let frontier = [parent];
  for (let depth = 0; depth < 50 && frontier.length > 0; depth++) {
    const next: { id: string; rescheduleCount: number }[] = [];
    for (const p of frontier) {
      const children = await Appointment.query(trx)
        .where('rescheduled_from_id', p.id)
        .whereNot('reschedule_count', p.rescheduleCount + 1)
        .select('id');
      for (const child of children) {
        await Appointment.query(trx)
          .findById(child.id)
          .patch({ rescheduleCount: p.rescheduleCount + 1 });
        next.push({ id: child.id, rescheduleCount: p.rescheduleCount + 1 });
      }
    }
    frontier = next;
  }
}
