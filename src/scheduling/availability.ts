import { DateTime } from 'luxon';
import type { RequestContext } from '../context/request-context';
import { loadBusy, loadScope } from './data';
import type { BookingPolicy } from './policies';
import { computeSlots, workingWindows, type Slot, type StaffSchedule } from './slots';
import { checkTimeWindow, parseInstant } from './support';
import { badInput } from '../errors/app-error';
import { optionalId, requireId } from '../domain/ids';
import { DAY_MS, HOUR_MS, MINUTE_MS } from './time';

export const MAX_RANGE_DAYS = 31;
/** Slots answered when the caller names no limit. */
export const DEFAULT_SLOT_LIMIT = 50;
/** The most slots one call answers (GraphQL allows at most MAX_PAGE_SIZE of them). */
export const MAX_SLOT_LIMIT = 2000;
/** The first window read; each further one is twice as long (1, 2, 4, … days). */
const FIRST_WINDOW_DAYS = 1;
/**
 * A caller asking for more slots than a page (the voice agent's distinct times over two weeks)
 * means to walk most of the range: it is read in one window, one statement.
 */
const PAGE_SLOTS = 100;

/** Where a page of slots ended: the next page starts after this (start, staff member). */
export interface SlotPosition {
  start: Date;
  staffId: string;
}

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
  /** At most this many slots (1 to MAX_SLOT_LIMIT, default DEFAULT_SLOT_LIMIT), earliest first. */
  first?: number | null;
  /** Only slots after this one (in the order time, staff id): the next page. */
  after?: SlotPosition | null;
  /** One slot per start time (the free staff member with the lowest id), for "any staff member". */
  distinctTimes?: boolean | null;
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
  /** At most `first` slots, by time, then staff id. */
  slots: AvailableSlot[];
  /** More slots follow in the range (continue after the last one). */
  hasMore: boolean;
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

/** Whether slot `s` comes after `pos` in the order of the answer. */
function isAfter(s: Slot, pos: SlotPosition, distinct: boolean): boolean {
  const d = s.start.getTime() - pos.start.getTime();
  if (d !== 0 || distinct) return d > 0;
  return s.staffId > pos.staffId;
}

/**
 * Free slots for a service over a range of at most 31 days, per staff member, in the booking
 * policy's notice and horizon: the first `first` of them (earliest first), after `after`.
 *
 * The range is walked in order, a window at a time (1 day, then 2, 4, 8, … days; the whole range at
 * once when more than a page is asked), and the walk stops as soon as one slot more than asked is
 * found. Each window in which anyone works costs one statement (the busy intervals inside it);
 * staff, their working hours, service, branches and policies are read once.
 * So the work grows with the part of the range walked and the slots answered, not with the
 * company's appointments or the size of its team's calendar.
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
  const limit = input.first ?? DEFAULT_SLOT_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_SLOT_LIMIT) {
    throw badInput('first', `first must be from 1 to ${MAX_SLOT_LIMIT}`, { max: MAX_SLOT_LIMIT });
  }
  const after = input.after ?? null;
  if (after && !Number.isFinite(after.start.getTime())) {
    throw badInput('after', 'after is not a valid position');
  }
  const distinct = input.distinctTimes === true;
  const now = input.now ?? new Date();
  const trx = await ctx.trx();
  const scope = await loadScope(ctx, trx, {
    serviceId,
    staffId,
    branchId,
    policyTypes: ['booking'],
    withWorkingHours: true,
  });
  const from = parseRangeEnd(input.from, 'from', scope.timeZone, false);
  const to = parseRangeEnd(input.to, 'to', scope.timeZone, true);
  checkTimeWindow('from', from, null, now);
  checkTimeWindow('to', to, null, now);
  if (to.getTime() <= from.getTime()) throw badInput('to', 'to must be after from');
  if (to.getTime() - from.getTime() > MAX_RANGE_DAYS * DAY_MS) {
    throw badInput('to', `The range can be at most ${MAX_RANGE_DAYS} days`, {
      maxDays: MAX_RANGE_DAYS,
    });
  }

  const policy = scope.policies.booking!.config;
  const stepMinutes = input.stepMinutes ?? policy.slotStepMinutes;
  const { earliest, latest } = bookingWindow(policy, now);
  if (from.getTime() > latest.getTime()) {
    throw badInput(
      'from',
      `The range starts after the booking horizon: bookings are taken at most ${policy.horizonDays} days ahead`,
      {
        rule: 'booking.horizonDays',
        limit: policy.horizonDays,
        latestStart: latest.toISOString(),
      },
    );
  }
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
    hasMore: false,
  };
  // Only the part of the range that policy (and the cursor) allows is worth walking.
  const walkFrom = Math.max(
    from.getTime(),
    earliest.getTime(),
    after?.start.getTime() ?? -Infinity,
  );
  const walkTo = Math.min(to.getTime(), latest.getTime() + 1);
  if (walkTo <= walkFrom || scope.candidates.length === 0) return result;

  const staffIds = scope.candidates.map((c) => c.id);
  const occupiedMinutes = service.durationMinutes + service.bufferMinutes;
  const found: Slot[] = [];
  let windowStart = walkFrom;
  let windowDays = limit > PAGE_SLOTS ? MAX_RANGE_DAYS : FIRST_WINDOW_DAYS;
  while (windowStart < walkTo && found.length <= limit) {
    const windowEnd = Math.min(walkTo, windowStart + windowDays * DAY_MS);
    // A window in which nobody works (a weekend, a holiday) needs no statement.
    const reach = windowEnd + service.durationMinutes * MINUTE_MS;
    const anyoneWorks = staffIds.some(
      (id) => workingWindows(scope.workingHours?.get(id) ?? [], windowStart, reach).length > 0,
    );
    if (!anyoneWorks) {
      windowStart = windowEnd;
      windowDays *= 2;
      continue;
    }
    const busy = await loadBusy(trx, staffIds, {
      from: new Date(windowStart),
      to: new Date(windowEnd),
      occupiedMinutes,
    });
    const staff: StaffSchedule[] = staffIds.map((id) => ({
      staffId: id,
      workingHours: scope.workingHours?.get(id) ?? [],
      busy: busy.get(id) ?? [],
    }));
    const slots = computeSlots({
      from: new Date(windowStart),
      to: new Date(windowEnd),
      durationMinutes: service.durationMinutes,
      bufferMinutes: service.bufferMinutes,
      stepMinutes,
      earliestStart: earliest,
      latestStart: latest,
      staff,
    });
    for (const slot of slots) {
      if (after && !isAfter(slot, after, distinct)) continue;
      const last = found[found.length - 1];
      if (distinct && last && last.start.getTime() === slot.start.getTime()) continue;
      found.push(slot);
      if (found.length > limit) break;
    }
    windowStart = windowEnd;
    windowDays *= 2;
  }
  result.hasMore = found.length > limit;
  const names = new Map(scope.candidates.map((c) => [c.id, c.name]));
  result.slots = found
    .slice(0, limit)
    .map((s) => ({ ...s, staffName: names.get(s.staffId) ?? '' }));
  return result;
}
