import type { Knex } from 'knex';
import type { RequestContext } from '../context/request-context';
import { Appointment, CalcomTeamMember, Customer, Service, TeamEventTypeMapping } from '../models';
import type { AppointmentStatus } from '../domain/enums';
import { isRecord } from './envelope';
import {
  BookingConflictError,
  DOUBLE_BOOKING_CONSTRAINT,
  EXCLUSION_VIOLATION,
  PermanentWebhookError,
  sqlStateOf,
} from './errors';
import type { EffectResult } from './retell-effects';
import { toE164, type CalcomRouteData } from './routing';
import { timeWindowProblem } from '../scheduling/time';

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

interface Resolved {
  mapping: TeamEventTypeMapping;
  staffId: string | null;
  customerId: string;
  priceCents: number | null;
}

/** Everything an appointment of this booking needs: service, staff, branch and customer. */
async function resolve(
  trx: Knex.Transaction,
  route: CalcomRouteData,
  b: Booking,
): Promise<Resolved> {
  const mapping = await TeamEventTypeMapping.query(trx).findById(route.mappingId);
  // Removed between routing and now: try again later, when routing decides afresh.
  if (!mapping) throw new Error(`event type mapping ${route.mappingId} no longer exists`);
  // The organizer is the host who actually got the booking (round-robin teams), so their own
  // staff member wins over the event type's default.
  let staffId = mapping.staffId;
  const member =
    (b.organizer.id !== null
      ? await CalcomTeamMember.query(trx).findOne({ calcom_user_id: b.organizer.id })
      : undefined) ??
    (b.organizer.email
      ? await CalcomTeamMember.query(trx).findOne({ email: b.organizer.email })
      : undefined);
  if (member) staffId = member.staffId;
  const service = await Service.query(trx).findById(mapping.serviceId).select('price_cents');
  const customerId = await findOrCreateCustomer(trx, b);
  return { mapping, staffId, customerId, priceCents: service?.priceCents ?? null };
}

async function companyRegion(trx: Knex.Transaction): Promise<string | undefined> {
  const row: { default_region: string } | undefined =
    await trx('companies').first('default_region');
  return row?.default_region;
}

/** The attendee's customer, found by email, then phone, and created when neither matches. */
async function findOrCreateCustomer(trx: Knex.Transaction, b: Booking): Promise<string> {
  const email = b.attendee.email;
  const phone = toE164(b.attendee.phone, await companyRegion(trx));
  const find = async () => {
    if (email) {
      const byEmail = await Customer.query(trx).findOne({ email });
      if (byEmail) return byEmail;
    }
    return phone ? Customer.query(trx).findOne({ phone_e164: phone }) : undefined;
  };
  const existing = await find();
  if (existing) {
    const fill: Partial<Customer> = {};
    if (
      phone &&
      !existing.phoneE164 &&
      !(await Customer.query(trx).findOne({ phone_e164: phone }))
    ) {
      fill.phoneE164 = phone;
    }
    if (email && !existing.email && !(await Customer.query(trx).findOne({ email }))) {
      fill.email = email;
    }
    if (Object.keys(fill).length > 0) await Customer.query(trx).findById(existing.id).patch(fill);
    return existing.id;
  }
  const name = b.attendee.name ?? email ?? phone ?? 'Cal.com guest';
  if (!email && !phone) {
    // Nothing identifies the attendee, so no existing customer can be theirs.
    const row = await Customer.query(trx).insert({ name, preferredLanguage: b.attendee.locale });
    return row.id;
  }
  // Another event may be creating the same customer right now: insert-or-nothing, then read.
  await Customer.query(trx)
    .insert({ name, email, phoneE164: phone, preferredLanguage: b.attendee.locale })
    .onConflict()
    .ignore();
  const created = await find();
  if (!created) throw new Error(`could not find or create the customer of booking ${b.uid}`);
  return created.id;
}

function statusOf(b: Booking): AppointmentStatus {
  if (b.status === 'CANCELLED' || b.status === 'REJECTED') return 'cancelled';
  return b.status === 'PENDING' ? 'scheduled' : 'confirmed';
}

async function findByUid(trx: Knex.Transaction, uid: string): Promise<Appointment | undefined> {
  return Appointment.query(trx).findOne({ calcom_booking_uid: uid }).forUpdate();
}

/** Inserts an appointment; a double booking becomes a BookingConflictError with a clear message. */
async function insertAppointment(
  ctx: RequestContext,
  trx: Knex.Transaction,
  row: Partial<Appointment>,
): Promise<Appointment> {
  try {
    return await Appointment.query(trx)
      .insert({ source: SOURCE, ...row })
      .returning('*');
  } catch (err) {
    const { code, constraint } = sqlStateOf(err);
    if (code === EXCLUSION_VIOLATION && (!constraint || constraint === DOUBLE_BOOKING_CONSTRAINT)) {
      ctx.deps.metrics.bookingConflicts.inc({ source: SOURCE });
      throw new BookingConflictError(
        `Booking conflict: Cal.com booking ${row.calcomBookingUid} (${row.startsAt?.toISOString()} to ` +
          `${row.endsAt?.toISOString()}) overlaps another appointment of staff member ${row.staffId} ` +
          `(${DOUBLE_BOOKING_CONSTRAINT})`,
      );
    }
    throw err;
  }
}

function cancelledFields(by: string | null, reason: string | null): Partial<Appointment> {
  return {
    status: 'cancelled',
    cancelledAt: new Date(),
    cancelledBy: by ?? 'calcom',
    cancellationReason: reason,
  };
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
  const r = await resolve(trx, route, b);
  const status = statusOf(b);
  const appointment = await insertAppointment(ctx, trx, {
    calcomBookingUid: b.uid,
    customerId: r.customerId,
    serviceId: r.mapping.serviceId,
    staffId: r.staffId,
    branchId: r.mapping.branchId,
    startsAt,
    endsAt,
    status,
    notes: b.notes,
    priceCents: r.priceCents,
    confirmedAt: status === 'confirmed' ? new Date() : null,
    ...(status === 'cancelled' ? cancelledFields(b.cancelledBy, b.cancellationReason) : {}),
  });
  await ctx.audit({
    action: 'appointment.created',
    subjectType: 'appointment',
    subjectId: appointment.id,
    details: { source: SOURCE, calcomBookingUid: b.uid },
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
  let id: string;
  if (existing) {
    await Appointment.query(trx)
      .findById(existing.id)
      .patch(cancelledFields(b.cancelledBy, b.cancellationReason));
    id = existing.id;
  } else {
    // Cancelled before its creation arrived: recorded as cancelled now, so the late
    // BOOKING_CREATED finds it and leaves it cancelled.
    const { startsAt, endsAt } = timesOf(b);
    const r = await resolve(trx, route, b);
    const row = await insertAppointment(ctx, trx, {
      calcomBookingUid: b.uid,
      customerId: r.customerId,
      serviceId: r.mapping.serviceId,
      staffId: r.staffId,
      branchId: r.mapping.branchId,
      startsAt,
      endsAt,
      notes: b.notes,
      priceCents: r.priceCents,
      ...cancelledFields(b.cancelledBy, b.cancellationReason),
    });
    id = row.id;
  }
  await ctx.audit({
    action: 'appointment.cancelled',
    subjectType: 'appointment',
    subjectId: id,
    reason: b.cancellationReason,
    details: { source: SOURCE, calcomBookingUid: b.uid },
  });
  return {
    outcome: 'processed',
    afterCommit: [() => metrics.appointmentsCancelled.inc({ source: SOURCE })],
  };
}

/** Keeps reschedule_count = parent's + 1 down a chain linked out of order. */
async function propagateCounts(
  trx: Knex.Transaction,
  parent: { id: string; rescheduleCount: number },
) {
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
  const afterCommit: Array<() => void> = [];
  let old = await findByUid(trx, b.rescheduleUid);
  let current = await findByUid(trx, b.uid);
  if (current && current.rescheduledFromId !== null) {
    return { outcome: 'processed', note: 'reschedule already recorded', afterCommit };
  }
  const r = await resolve(trx, route, b);
  const reason = 'rescheduled';
  if (!old) {
    // The old booking's own times when the payload has them; a cancelled row never conflicts.
    const { startsAt, endsAt } =
      b.rescheduleStartsAt && b.rescheduleEndsAt && b.rescheduleEndsAt > b.rescheduleStartsAt
        ? { startsAt: b.rescheduleStartsAt, endsAt: b.rescheduleEndsAt }
        : timesOf(b);
    old = await insertAppointment(ctx, trx, {
      calcomBookingUid: b.rescheduleUid,
      customerId: r.customerId,
      serviceId: r.mapping.serviceId,
      staffId: r.staffId,
      branchId: r.mapping.branchId,
      startsAt,
      endsAt,
      priceCents: r.priceCents,
      ...cancelledFields(b.rescheduledBy, reason),
    });
  } else if (old.status !== 'cancelled') {
    // Freed first, so the new time may overlap the old one for the same staff member.
    await Appointment.query(trx).findById(old.id).patch(cancelledFields(b.rescheduledBy, reason));
  }
  const count = old.rescheduleCount + 1;
  if (!current) {
    const { startsAt, endsAt } = timesOf(b);
    const status = statusOf(b);
    current = await insertAppointment(ctx, trx, {
      calcomBookingUid: b.uid,
      customerId: r.customerId,
      serviceId: r.mapping.serviceId,
      staffId: r.staffId,
      branchId: r.mapping.branchId,
      startsAt,
      endsAt,
      status,
      notes: b.notes,
      priceCents: r.priceCents,
      confirmedAt: status === 'confirmed' ? new Date() : null,
      rescheduledFromId: old.id,
      rescheduleCount: count,
    });
    afterCommit.push(() => metrics.appointmentsRescheduled.inc({ source: SOURCE }));
  } else {
    await Appointment.query(trx)
      .findById(current.id)
      .patch({ rescheduledFromId: old.id, rescheduleCount: count });
    await propagateCounts(trx, { id: current.id, rescheduleCount: count });
    afterCommit.push(() => metrics.appointmentsRescheduled.inc({ source: SOURCE }));
  }
  await ctx.audit({
    action: 'appointment.rescheduled',
    subjectType: 'appointment',
    subjectId: current.id,
    details: { source: SOURCE, calcomBookingUid: b.uid, rescheduledFromId: old.id },
  });
  return { outcome: 'processed', afterCommit };
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
