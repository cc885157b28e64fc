import { DateTime } from 'luxon';
import type { RequestContext } from '../context/request-context';
import { loadSchedules, loadScope } from './data';
import type { BookingPolicy } from './policies';
import { computeSlots } from './slots';
import { checkTimeWindow, parseInstant } from './support';
import { badInput } from '../errors/app-error';
import { optionalId, requireId } from '../domain/ids';
import { DAY_MS, HOUR_MS } from './time';

export const MAX_RANGE_DAYS = 31;

export interface FindAvailableSlotsInput {
  serviceId: string;
  /** Only this staff member; otherwise everyone who performs the service. */
  staffId?: string | null;
  /** Only staff of this branch (and staff assigned to no branch). */
  branchId?: string | null;
  /**
   * Start of the range: a Date, an ISO date-time with offset, or a local date 'YYYY-MM-DD' in the
   * branch's time zone (its midnight).
   */
  from: Date | string;
  /** End of the range (exclusive); a local date 'YYYY-MM-DD' includes that whole day. */
  to: Date | string;
  /** Spacing of start times; default from the booking policy (15). */
  stepMinutes?: number | null;
  /** The current time; for tests and replays. */
  now?: Date;
}

export interface AvailableSlot {
  staffId: string;
  staffName: string;
  /** ISO 8601 with the local offset, e.g. 2026-03-29T10:00:00+02:00. */
  startsAt: string;
  endsAt: string;
  start: Date;
  end: Date;
  timeZone: string;
}

export interface AvailabilityResult {
  serviceId: string;
  branchId: string | null;
  /** The zone of the branch (else the company), in which dates were read. */
  timeZone: string;
  durationMinutes: number;
  bufferMinutes: number;
  stepMinutes: number;
  from: Date;
  to: Date;
  /** Minimum notice: nothing earlier is offered. */
  earliestStart: Date;
  /** Booking horizon: nothing later is offered. */
  latestStart: Date;
  slots: AvailableSlot[];
}

const LOCAL_DATE = /^\d{4}-\d{2}-\d{2}$/;

function parseRangeEnd(value: unknown, field: string, zone: string, endOfDay: boolean): Date {
  if (typeof value === 'string' && LOCAL_DATE.test(value.trim())) {
    const day = DateTime.fromISO(value.trim(), { zone });
    if (!day.isValid) throw badInput(field, `${field} is not a valid date`);
    return (endOfDay ? day.plus({ days: 1 }) : day).startOf('day').toJSDate();
  }
  return parseInstant(value, field);
}

/** Booking window of a policy at `now`. */
export function bookingWindow(policy: BookingPolicy, now: Date): { earliest: Date; latest: Date } {
  return {
    earliest: new Date(now.getTime() + policy.minNoticeHours * HOUR_MS),
    latest: new Date(now.getTime() + policy.horizonDays * DAY_MS),
  };
}

/**
 * Free slots for a service over a range of at most 31 days, per staff member, in the booking
 * policy's notice and horizon. Issues at most 8 queries, however long the range or large the team.
 */
export async function findAvailableSlots(
  ctx: RequestContext,
  input: FindAvailableSlotsInput,
): Promise<AvailabilityResult> {
  const serviceId = requireId(input.serviceId, 'serviceId', 'Service');
  const staffId = optionalId(input.staffId, 'staffId', 'Staff member');
  const branchId = optionalId(input.branchId, 'branchId', 'Branch');
  if (input.stepMinutes != null) {
    const step = input.stepMinutes;
    if (!Number.isInteger(step) || step < 5 || step > 240) {
      throw badInput('stepMinutes', 'stepMinutes must be a whole number from 5 to 240');
    }
  }
  const now = input.now ?? new Date();
  const trx = await ctx.trx();
  const scope = await loadScope(ctx, trx, {
    serviceId,
    staffId,
    branchId,
    policyTypes: ['booking'],
  });
  const from = parseRangeEnd(input.from, 'from', scope.timeZone, false);
  const to = parseRangeEnd(input.to, 'to', scope.timeZone, true);
  if (to.getTime() <= from.getTime()) throw badInput('to', 'to must be after from');
  checkTimeWindow('from', from, null, now);
  checkTimeWindow('to', to, null, now);
  if (to.getTime() - from.getTime() > MAX_RANGE_DAYS * DAY_MS) {
    throw badInput('to', `The range can be at most ${MAX_RANGE_DAYS} days`, {
      maxDays: MAX_RANGE_DAYS,
    });
  }

  const policy = scope.policies.booking!.config;
  const stepMinutes = input.stepMinutes ?? policy.slotStepMinutes;
  const { earliest, latest } = bookingWindow(policy, now);
  const service = scope.service;
  const result: AvailabilityResult = {
    serviceId,
    branchId: scope.branchId,
    timeZone: scope.timeZone,
    durationMinutes: service.durationMinutes,
    bufferMinutes: service.bufferMinutes,
    stepMinutes,
    from,
    to,
    earliestStart: earliest,
    latestStart: latest,
    slots: [],
  };
  // Only the part of the range that policy allows is worth loading.
  const loadFrom = new Date(Math.max(from.getTime(), earliest.getTime()));
  const loadTo = new Date(Math.min(to.getTime(), latest.getTime() + 1));
  if (loadTo.getTime() <= loadFrom.getTime() || scope.candidates.length === 0) return result;

  const { schedules } = await loadSchedules(trx, scope, {
    from: loadFrom,
    to: loadTo,
    occupiedMinutes: service.durationMinutes + service.bufferMinutes,
  });
  const names = new Map(scope.candidates.map((c) => [c.id, c.name]));
  result.slots = computeSlots({
    from,
    to,
    durationMinutes: service.durationMinutes,
    bufferMinutes: service.bufferMinutes,
    stepMinutes,
    earliestStart: earliest,
    latestStart: latest,
    staff: [...schedules.values()],
  }).map((s) => ({ ...s, staffName: names.get(s.staffId) ?? '' }));
  return result;
}
