import type { Knex } from 'knex';
import type { RequestContext } from '../context/request-context';
import type { Appointment, TeamEventTypeMapping } from '../models';
import type { AppointmentStatus } from '../domain/enums';
import { AppError } from '../errors/app-error';
import { bookAppointment, cancelAppointment, rescheduleAppointment } from '../scheduling';
import { isRecord } from './envelope';
import { BookingConflictError, DOUBLE_BOOKING_CONSTRAINT, PermanentWebhookError } from './errors';
import type { EffectResult } from './retell-effects';
import type { CalcomRouteData } from './routing';
import { timeWindowProblem } from '../scheduling/time';
import {
  appointmentByCalcomUidForUpdate,
  calcomTeamMember,
  eventTypeMapping,
} from '../scheduling/calcom-links';

export const CALCOM_BOOKING_EVENTS = [
  'BOOKING_CREATED',
  'BOOKING_RESCHEDULED',
  'BOOKING_CANCELLED',
] as const;
type CalcomBookingEvent = (typeof CALCOM_BOOKING_EVENTS)[number];

export function isCalcomBookingEvent(event: string): event is CalcomBookingEvent {
  return (CALCOM_BOOKING_EVENTS as readonly string[]).includes(event);
}

const SOURCE = 'calcom' as const;

function str(value: unknown): string | null {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : null;
}

// eslint-disable-next-line no-control-regex -- replacing control characters is the point
const CONTROL_RUNS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g;

/**
 * A name as a single line: control characters (a signed payload can carry any) become spaces,
 * runs of spaces one, and it is cut at 200 characters, the longest name GraphQL accepts.
 */
function oneLine(value: string | null): string | null {
  if (value === null) return null;
  const line = value.replace(CONTROL_RUNS, ' ').replace(/ {2,}/g, ' ');
  return line.trim().slice(0, 200) || null;
}

function isoDate(value: unknown): Date | null {
  if (typeof value !== 'string') return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** A `responses` entry is `{label, value}` in current Cal.com and a bare value in older ones. */
function responseValue(responses: unknown, key: string): unknown {
  if (!isRecord(responses)) return undefined;
  const entry = responses[key];
  return isRecord(entry) ? entry.value : entry;
}

interface Booking {
  uid: string;
  startsAt: Date | null;
  endsAt: Date | null;
  status: string | null;
  notes: string | null;
  attendee: { name: string | null; email: string | null; phone: unknown; locale: string | null };
  organizer: { id: number | null; email: string | null };
  rescheduleUid: string | null;
  rescheduleStartsAt: Date | null;
  rescheduleEndsAt: Date | null;
  rescheduledBy: string | null;
  cancelledBy: string | null;
  cancellationReason: string | null;
}

function bookingOf(payload: unknown): Booking {
  if (!isRecord(payload)) throw new PermanentWebhookError('Cal.com event without a payload object');
  const uid = str(payload.uid);
  if (!uid) throw new PermanentWebhookError('Cal.com booking without a uid');
  const attendees = Array.isArray(payload.attendees) ? payload.attendees.filter(isRecord) : [];
  const first = attendees[0] ?? {};
  const organizer = isRecord(payload.organizer) ? payload.organizer : {};
  const language = isRecord(first.language) ? first.language.locale : first.language;
  const cancelledBy = isRecord(payload.cancelledBy)
    ? payload.cancelledBy.email
    : payload.cancelledBy;
  const rescheduledBy = isRecord(payload.rescheduledBy)
    ? payload.rescheduledBy.email
    : payload.rescheduledBy;
  return {
    uid,
    startsAt: isoDate(payload.startTime),
    endsAt: isoDate(payload.endTime),
    status: str(payload.status),
    notes: str(payload.additionalNotes) ?? str(payload.description),
    attendee: {
      name: oneLine(str(first.name) ?? str(responseValue(payload.responses, 'name'))),
      email:
        (str(first.email) ?? str(responseValue(payload.responses, 'email')))?.toLowerCase() ?? null,
      phone:
        first.phoneNumber ??
        responseValue(payload.responses, 'attendeePhoneNumber') ??
        responseValue(payload.responses, 'phone') ??
        payload.smsReminderNumber,
      locale: str(language),
    },
    organizer: {
      id: typeof organizer.id === 'number' && Number.isInteger(organizer.id) ? organizer.id : null,
      email: str(organizer.email)?.toLowerCase() ?? null,
    },
    rescheduleUid: str(payload.rescheduleUid),
    rescheduleStartsAt: isoDate(payload.rescheduleStartTime),
    rescheduleEndsAt: isoDate(payload.rescheduleEndTime),
    rescheduledBy: str(rescheduledBy),
    cancelledBy: str(cancelledBy),
    cancellationReason: str(payload.cancellationReason),
  };
}

function timesOf(b: Booking): { startsAt: Date; endsAt: Date } {
  if (!b.startsAt || !b.endsAt) {
    throw new PermanentWebhookError(`Cal.com booking ${b.uid} without a valid startTime/endTime`);
  }
  if (b.endsAt <= b.startsAt) {
    throw new PermanentWebhookError(`Cal.com booking ${b.uid} ends before it starts`);
  }
  // The same window as GraphQL bookings: such an event can never apply, so it ends dead at once
  // with the reason on the event instead of being retried.
  const problem = timeWindowProblem(b.startsAt, b.endsAt, new Date());
  if (problem) {
    throw new PermanentWebhookError(`Cal.com booking ${b.uid} refused: ${problem}`);
  }
  return { startsAt: b.startsAt, endsAt: b.endsAt };
}

interface Host {
  mapping: TeamEventTypeMapping;
  staffId: string | null;
}

/** The event type's mapping and the staff member who got the booking. */
async function hostOf(trx: Knex.Transaction, route: CalcomRouteData, b: Booking): Promise<Host> {
  const mapping = await eventTypeMapping(trx, route.mappingId);
  // Removed between routing and now: try again later, when routing decides afresh.
  if (!mapping) throw new Error(`event type mapping ${route.mappingId} no longer exists`);
  // The organizer is the host who actually got the booking (round-robin teams), so their own
  // staff member wins over the event type's default.
  let staffId = mapping.staffId;
  const member = await calcomTeamMember(trx, b.organizer);
  if (member) staffId = member.staffId;
  return { mapping, staffId };
}

function statusOf(b: Booking): AppointmentStatus {
  if (b.status === 'CANCELLED' || b.status === 'REJECTED') return 'cancelled';
  return b.status === 'PENDING' ? 'scheduled' : 'confirmed';
}

async function findByUid(trx: Knex.Transaction, uid: string): Promise<Appointment | undefined> {
  return appointmentByCalcomUidForUpdate(trx, uid);
}

/** A lost race for the staff member's time, as the worker's retried booking conflict. */
function conflictOf(
  err: unknown,
  uid: string,
  startsAt: Date,
  endsAt: Date,
  staffId: string | null,
) {
  if (err instanceof AppError && err.code === 'CONFLICT' && err.details?.reason === 'SLOT_TAKEN') {
    return new BookingConflictError(
      `Booking conflict: Cal.com booking ${uid} (${startsAt.toISOString()} to ` +
        `${endsAt.toISOString()}) overlaps another appointment of staff member ${staffId} ` +
        `(${DOUBLE_BOOKING_CONSTRAINT})`,
    );
  }
  return err;
}

/**
 * Records a booking Cal.com made through the one booking service (the same as GraphQL and the
 * voice agent): the attendee becomes a customer found by verified email, then phone, or created.
 */
async function book(
  ctx: RequestContext,
  host: Host,
  b: Booking,
  booking: {
    uid: string;
    startsAt: Date;
    endsAt: Date;
    status: AppointmentStatus;
    notes: string | null;
    cancellation: { by: string; reason: string | null } | null;
  },
): Promise<Appointment> {
  try {
    const { appointment } = await bookAppointment(ctx, {
      serviceId: host.mapping.serviceId,
      startsAt: booking.startsAt,
      source: SOURCE,
      notes: booking.notes,
      customer: {
        phone: typeof b.attendee.phone === 'string' ? b.attendee.phone : null,
        name: b.attendee.name,
        email: b.attendee.email,
        preferredLanguage: b.attendee.locale,
      },
      provider: {
        calcomBookingUid: booking.uid,
        endsAt: booking.endsAt,
        staffId: host.staffId,
        branchId: host.mapping.branchId,
        status: booking.status,
        cancellation: booking.cancellation,
        emailVerified: true,
      },
    });
    return appointment;
  } catch (err) {
    throw conflictOf(err, booking.uid, booking.startsAt, booking.endsAt, host.staffId);
  }
}

async function created(
  ctx: RequestContext,
  trx: Knex.Transaction,
  route: CalcomRouteData,
  b: Booking,
): Promise<EffectResult> {
  const existing = await findByUid(trx, b.uid);
  // Already recorded, possibly cancelled or rescheduled by an event that arrived first: an
  // earlier state never overwrites a later one.
  if (existing) return { outcome: 'processed', note: 'booking already recorded', afterCommit: [] };
  const { startsAt, endsAt } = timesOf(b);
  const status = statusOf(b);
  await book(ctx, await hostOf(trx, route, b), b, {
    uid: b.uid,
    startsAt,
    endsAt,
    status,
    notes: b.notes,
    cancellation:
      status === 'cancelled'
        ? { by: b.cancelledBy ?? 'calcom', reason: b.cancellationReason }
        : null,
  });
  const { metrics } = ctx.deps;
  return {
    outcome: 'processed',
    afterCommit:
      status === 'cancelled' ? [] : [() => metrics.appointmentsBooked.inc({ source: SOURCE })],
  };
}

async function cancelled(
  ctx: RequestContext,
  trx: Knex.Transaction,
  route: CalcomRouteData,
  b: Booking,
): Promise<EffectResult> {
  const { metrics } = ctx.deps;
  const existing = await findByUid(trx, b.uid);
  if (existing?.status === 'cancelled') {
    return { outcome: 'processed', note: 'already cancelled', afterCommit: [] };
  }
  const by = b.cancelledBy ?? 'calcom';
  if (existing) {
    await cancelAppointment(ctx, existing.id, {
      reason: b.cancellationReason,
      source: SOURCE,
      provider: { by, calcomBookingUid: b.uid },
    });
  } else {
    // Cancelled before its creation arrived: recorded as cancelled now, so the late
    // BOOKING_CREATED finds it and leaves it cancelled.
    const { startsAt, endsAt } = timesOf(b);
    await book(ctx, await hostOf(trx, route, b), b, {
      uid: b.uid,
      startsAt,
      endsAt,
      status: 'cancelled',
      notes: b.notes,
      cancellation: { by, reason: b.cancellationReason },
    });
  }
  return {
    outcome: 'processed',
    afterCommit: [() => metrics.appointmentsCancelled.inc({ source: SOURCE })],
  };
}

/**
 * A reschedule is a new booking (uid) replacing an old one (rescheduleUid): the old appointment is
 * cancelled and the new one points back at it, counting the reschedules of the chain. When the
 * old booking was never seen, it is recorded as a cancelled appointment from the reschedule's
 * details, so its own late BOOKING_CREATED cannot bring it back.
 */
async function rescheduled(
  ctx: RequestContext,
  trx: Knex.Transaction,
  route: CalcomRouteData,
  b: Booking,
): Promise<EffectResult> {
  if (!b.rescheduleUid || b.rescheduleUid === b.uid) return created(ctx, trx, route, b);
  const { metrics } = ctx.deps;
  let old = await findByUid(trx, b.rescheduleUid);
  const current = await findByUid(trx, b.uid);
  if (current && current.rescheduledFromId !== null) {
    return { outcome: 'processed', note: 'reschedule already recorded', afterCommit: [] };
  }
  const host = await hostOf(trx, route, b);
  const by = b.rescheduledBy ?? 'calcom';
  if (!old) {
    // The old booking's own times when the payload has them; a cancelled row never conflicts.
    const { startsAt, endsAt } =
      b.rescheduleStartsAt && b.rescheduleEndsAt && b.rescheduleEndsAt > b.rescheduleStartsAt
        ? { startsAt: b.rescheduleStartsAt, endsAt: b.rescheduleEndsAt }
        : timesOf(b);
    old = await book(ctx, host, b, {
      uid: b.rescheduleUid,
      startsAt,
      endsAt,
      status: 'cancelled',
      notes: null,
      cancellation: { by, reason: 'rescheduled' },
    });
  }
  const { startsAt, endsAt } = current
    ? { startsAt: current.startsAt, endsAt: current.endsAt }
    : timesOf(b);
  try {
    await rescheduleAppointment(ctx, old.id, {
      startsAt,
      source: SOURCE,
      provider: {
        calcomBookingUid: b.uid,
        endsAt,
        staffId: host.staffId,
        branchId: host.mapping.branchId,
        status: statusOf(b),
        notes: b.notes,
        by,
        existingAppointmentId: current?.id ?? null,
      },
    });
  } catch (err) {
    throw conflictOf(err, b.uid, startsAt, endsAt, host.staffId);
  }
  return {
    outcome: 'processed',
    afterCommit: [() => metrics.appointmentsRescheduled.inc({ source: SOURCE })],
  };
}

/**
 * Applies a Cal.com booking event to the company's appointment with that booking uid. Every
 * effect is idempotent and order-tolerant: cancelled is final for a booking uid (Cal.com never
 * revives one; a rebooking gets a new uid), and a late event never undoes a later one.
 */
export async function applyCalcomBookingEvent(
  ctx: RequestContext,
  event: CalcomBookingEvent,
  payload: unknown,
  route: CalcomRouteData,
): Promise<EffectResult> {
  const b = bookingOf(payload);
  const trx = await ctx.trx();
  switch (event) {
    case 'BOOKING_CREATED':
      return b.rescheduleUid ? rescheduled(ctx, trx, route, b) : created(ctx, trx, route, b);
    case 'BOOKING_RESCHEDULED':
      return rescheduled(ctx, trx, route, b);
    case 'BOOKING_CANCELLED':
      return cancelled(ctx, trx, route, b);
  }
}
