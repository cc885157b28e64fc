import {
  dateToDayNumber,
  DAY_MS,
  formatInZone,
  isoWeekday,
  localDayNumber,
  localToInstant,
  MINUTE_MS,
  parseTimeOfDay,
} from './time';

/**
 * The availability core: pure functions over plain data, so the rules can be property-tested
 * without a database and the loader can fetch everything in a fixed number of queries.
 *
 * A slot of staff member S starting at t is offered when
 * - [t, t + duration) lies inside S's working hours (the union of that day's rows; the gaps
 *   between rows are breaks), evaluated in each row's own IANA time zone;
 * - [t, t + duration + buffer) overlaps none of S's busy intervals: appointments (each already
 *   extended by its own buffer) and time off. The buffer may run past the end of working hours
 *   (tidying up after the last client) but never into someone else's appointment or time off;
 * - t is on the step grid anchored at the start of its working window, t is in [from, to), and
 *   t lies between earliestStart (minimum notice) and latestStart (booking horizon).
 * Arithmetic is on absolute instants, so a window that spans a daylight-saving change is as long
 * as the time that really passes, and no slot falls into an hour the clocks skip.
 */

export interface WorkingHourRule {
  /** ISO weekday, 1 = Monday. */
  weekday: number;
  /** Local wall time 'HH:MM[:SS]'; '24:00' ends at midnight. */
  startsAt: string;
  endsAt: string;
  /** First and last local date the row applies to, inclusive ('YYYY-MM-DD'), or open. */
  validFrom?: string | null;
  validUntil?: string | null;
  /** IANA zone the wall times are in. */
  timeZone: string;
}

export type BusyKind = 'appointment' | 'time_off';

export interface BusyInterval {
  start: Date;
  /** For appointments, the end of their buffer. */
  end: Date;
  kind: BusyKind;
  id?: string;
}

export interface StaffSchedule {
  staffId: string;
  workingHours: readonly WorkingHourRule[];
  busy: readonly BusyInterval[];
}

export interface SlotRequest {
  /** Slots start in [from, to). */
  from: Date;
  to: Date;
  durationMinutes: number;
  bufferMinutes: number;
  stepMinutes: number;
  /** Minimum notice: no slot starts before this. */
  earliestStart?: Date;
  /** Booking horizon: no slot starts after this. */
  latestStart?: Date;
  staff: readonly StaffSchedule[];
}

export interface Slot {
  staffId: string;
  start: Date;
  end: Date;
  /** ISO 8601 with the local offset, e.g. 2026-03-29T10:00:00+02:00. */
  startsAt: string;
  endsAt: string;
  timeZone: string;
}

export interface WorkingWindow {
  start: number;
  end: number;
  timeZone: string;
}

interface ParsedRule {
  weekday: number;
  startSec: number;
  endSec: number;
  fromDay: number;
  untilDay: number;
}

/**
 * The concrete working windows (epoch ms) of a set of weekly rules that touch [fromMs, toMs),
 * sorted and merged where rows overlap or meet.
 */
export function workingWindows(
  rules: readonly WorkingHourRule[],
  fromMs: number,
  toMs: number,
): WorkingWindow[] {
  const byZone = new Map<string, ParsedRule[][]>();
  for (const rule of rules) {
    let days = byZone.get(rule.timeZone);
    if (!days) {
      days = Array.from({ length: 8 }, () => []);
      byZone.set(rule.timeZone, days);
    }
    days[rule.weekday]?.push({
      weekday: rule.weekday,
      startSec: parseTimeOfDay(rule.startsAt),
      endSec: parseTimeOfDay(rule.endsAt),
      fromDay: rule.validFrom ? dateToDayNumber(rule.validFrom) : -Infinity,
      untilDay: rule.validUntil ? dateToDayNumber(rule.validUntil) : Infinity,
    });
  }

  const windows: WorkingWindow[] = [];
  for (const [zone, days] of byZone) {
    const first = localDayNumber(zone, fromMs) - 1;
    const last = localDayNumber(zone, toMs);
    for (let day = first; day <= last; day++) {
      for (const rule of days[isoWeekday(day)]) {
        if (day < rule.fromDay || day > rule.untilDay) continue;
        const start = localToInstant(zone, day, rule.startSec);
        const end =
          rule.endSec >= 86_400
            ? localToInstant(zone, day + 1, rule.endSec - 86_400)
            : localToInstant(zone, day, rule.endSec);
        if (end > start && end > fromMs && start < toMs)
          windows.push({ start, end, timeZone: zone });
      }
    }
  }
  windows.sort((a, b) => a.start - b.start || a.end - b.end);
  const merged: WorkingWindow[] = [];
  for (const w of windows) {
    const last = merged[merged.length - 1];
    if (last && w.start <= last.end) last.end = Math.max(last.end, w.end);
    else merged.push({ ...w });
  }
  return merged;
}

/** Sorted, merged [start, end) intervals in epoch ms. */
export function mergeIntervals(
  intervals: readonly { start: Date; end: Date }[],
): { start: number; end: number }[] {
  const list = intervals
    .map((i) => ({ start: i.start.getTime(), end: i.end.getTime() }))
    .filter((i) => i.end > i.start)
    .sort((a, b) => a.start - b.start);
  const merged: { start: number; end: number }[] = [];
  for (const i of list) {
    const last = merged[merged.length - 1];
    if (last && i.start <= last.end) last.end = Math.max(last.end, i.end);
    else merged.push(i);
  }
  return merged;
}

/** Every free slot, ordered by start time and then staff id. */
export function computeSlots(request: SlotRequest): Slot[] {
  const durMs = request.durationMinutes * MINUTE_MS;
  const occMs = (request.durationMinutes + request.bufferMinutes) * MINUTE_MS;
  const stepMs = request.stepMinutes * MINUTE_MS;
  if (durMs <= 0 || stepMs <= 0) return [];
  const fromMs = request.from.getTime();
  const lower = Math.max(fromMs, request.earliestStart?.getTime() ?? -Infinity);
  const upperExclusive = request.to.getTime();
  const upperInclusive = request.latestStart?.getTime() ?? Infinity;
  const onGrid = (anchor: number, atLeast: number) =>
    anchor + Math.ceil((atLeast - anchor) / stepMs) * stepMs;

  const slots: Slot[] = [];
  for (const staff of request.staff) {
    const windows = workingWindows(staff.workingHours, fromMs, upperExclusive + durMs);
    const busy = mergeIntervals(staff.busy);
    let p = 0;
    for (const w of windows) {
      let t = w.start < lower ? onGrid(w.start, lower) : w.start;
      while (t + durMs <= w.end && t < upperExclusive && t <= upperInclusive) {
        while (p < busy.length && busy[p].end <= t) p++;
        if (p < busy.length && busy[p].start < t + occMs) {
          t = onGrid(w.start, busy[p].end);
          continue;
        }
        slots.push({
          staffId: staff.staffId,
          start: new Date(t),
          end: new Date(t + durMs),
          startsAt: formatInZone(t, w.timeZone),
          endsAt: formatInZone(t + durMs, w.timeZone),
          timeZone: w.timeZone,
        });
        t += stepMs;
      }
    }
  }
  return slots.sort(
    (a, b) =>
      a.start.getTime() - b.start.getTime() ||
      (a.staffId < b.staffId ? -1 : a.staffId > b.staffId ? 1 : 0),
  );
}

export interface StartEvaluation {
  /** [start, start + duration) lies inside one working window. */
  withinWorkingHours: boolean;
  /** What [start, start + duration + buffer) collides with. */
  conflicts: BusyKind[];
  /** The zone of the working window the start falls in, when it falls in one. */
  timeZone?: string;
}

/**
 * Why one given start would or would not be offered to one staff member, ignoring the step grid
 * and the notice and horizon limits (booking checks those as policy rules of their own).
 */
export function evaluateStart(
  schedule: StaffSchedule,
  start: Date,
  durationMinutes: number,
  bufferMinutes: number,
): StartEvaluation {
  const s = start.getTime();
  const e = s + durationMinutes * MINUTE_MS;
  const occEnd = s + (durationMinutes + bufferMinutes) * MINUTE_MS;
  const windows = workingWindows(schedule.workingHours, s - DAY_MS, e + DAY_MS);
  const window = windows.find((w) => w.start <= s && e <= w.end);
  const conflicts = new Set<BusyKind>();
  for (const b of schedule.busy) {
    if (b.start.getTime() < occEnd && b.end.getTime() > s) conflicts.add(b.kind);
  }
  return {
    withinWorkingHours: window !== undefined,
    conflicts: [...conflicts],
    timeZone: window?.timeZone,
  };
}
