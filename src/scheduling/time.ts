import { IANAZone } from 'luxon';

/**
 * Wall-clock arithmetic in IANA time zones, kept free of per-call DateTime objects because the slot
 * computation runs it for every working window and every slot.
 */

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

const zones = new Map<string, IANAZone>();

export function zoneOf(name: string): IANAZone {
  let zone = zones.get(name);
  if (!zone) {
    zone = IANAZone.create(name);
    if (!zone.isValid) throw new Error(`invalid time zone ${name}`);
    zones.set(name, zone);
  }
  return zone;
}

const validity = new Map<string, boolean>();

export function isValidZone(name: string): boolean {
  let valid = validity.get(name);
  if (valid === undefined) {
    // Each check builds an Intl.DateTimeFormat; zone names are few, so remember the answers.
    valid = IANAZone.isValidZone(name);
    if (validity.size > 1000) validity.clear();
    validity.set(name, valid);
  }
  return valid;
}

// Offsets per zone and UTC day. Asking Intl for an offset costs microseconds and availability asks
// for thousands; a day whose offset is the same at its first and last millisecond has no change in
// between (no zone changes its offset twice within a day), so one entry serves the whole day.
const dayOffsets = new Map<string, Map<number, number | null>>();
const MAX_CACHED_DAYS = 20_000;

/** UTC offset in minutes of `zone` at instant `ms`. */
export function offsetAt(zone: string, ms: number): number {
  const day = Math.floor(ms / DAY_MS);
  let days = dayOffsets.get(zone);
  if (!days) {
    days = new Map();
    dayOffsets.set(zone, days);
  }
  let offset = days.get(day);
  if (offset === undefined) {
    const z = zoneOf(zone);
    const first = z.offset(day * DAY_MS);
    offset = first === z.offset((day + 1) * DAY_MS - 1) ? first : null;
    if (days.size >= MAX_CACHED_DAYS) days.clear();
    days.set(day, offset);
  }
  return offset ?? zoneOf(zone).offset(ms);
}

/** Days since 1970-01-01 of the local calendar date at instant `ms`. */
export function localDayNumber(zone: string, ms: number): number {
  return Math.floor((ms + offsetAt(zone, ms) * MINUTE_MS) / DAY_MS);
}

/** ISO weekday (1 = Monday) of a day number; 1970-01-01 was a Thursday. */
export function isoWeekday(dayNumber: number): number {
  return ((((dayNumber + 3) % 7) + 7) % 7) + 1;
}

/** 'YYYY-MM-DD' of a day number. */
export function dayNumberToDate(dayNumber: number): string {
  return new Date(dayNumber * DAY_MS).toISOString().slice(0, 10);
}

export function dateToDayNumber(date: string): number {
  return Math.floor(Date.parse(`${date}T00:00:00Z`) / DAY_MS);
}

/**
 * The instant at which the clocks of `zone` show `secondOfDay` on local day `dayNumber`.
 * A time shown twice (the hour repeated when clocks go back) resolves to its first occurrence; a
 * time never shown (the hour skipped when clocks go forward) resolves to the moment of the jump,
 * so a shift from 02:30 to 05:00 on that night starts at 03:00 and one ending at 02:30 ends at 02:00.
 */
export function localToInstant(zone: string, dayNumber: number, secondOfDay: number): number {
  const wall = dayNumber * DAY_MS + secondOfDay * 1000;
  // No zone changes its offset twice within two days, so the offsets a day either side bracket it.
  const before = offsetAt(zone, wall - DAY_MS);
  const after = offsetAt(zone, wall + DAY_MS);
  const a = wall - before * MINUTE_MS;
  if (before === after) {
    const actual = offsetAt(zone, a);
    if (actual === before) return a;
    // A transition and its reversal within the bracket: trust the offset at the first guess.
    return wall - actual * MINUTE_MS;
  }
  const b = wall - after * MINUTE_MS;
  const aValid = offsetAt(zone, a) === before;
  const bValid = offsetAt(zone, b) === after;
  if (aValid && bValid) return Math.min(a, b);
  if (aValid) return a;
  if (bValid) return b;
  // Skipped wall time: find the transition between the two guesses, to the minute.
  let lo = Math.floor(Math.min(a, b) / MINUTE_MS) * MINUTE_MS;
  let hi = Math.ceil(Math.max(a, b) / MINUTE_MS) * MINUTE_MS;
  while (hi - lo > MINUTE_MS) {
    const mid = lo + Math.floor((hi - lo) / 2 / MINUTE_MS) * MINUTE_MS;
    if (offsetAt(zone, mid) === before) lo = mid;
    else hi = mid;
  }
  return hi;
}

/** ISO 8601 with the zone's offset at that instant and no milliseconds: 2026-03-29T10:00:00+02:00. */
export function formatInZone(ms: number, zone: string): string {
  const offset = offsetAt(zone, ms);
  const local = ms + offset * MINUTE_MS;
  const day = Math.floor(local / DAY_MS);
  const seconds = Math.floor((local - day * DAY_MS) / 1000);
  const abs = Math.abs(offset);
  return (
    `${civilDate(day)}T${pad2(Math.floor(seconds / 3600))}:${pad2(Math.floor(seconds / 60) % 60)}:` +
    `${pad2(seconds % 60)}${offset < 0 ? '-' : '+'}${pad2(Math.floor(abs / 60))}:${pad2(abs % 60)}`
  );
}

const pad2 = (n: number) => (n < 10 ? `0${n}` : `${n}`);

/** 'YYYY-MM-DD' of a day number, without a Date (H. Hinnant's civil_from_days). */
function civilDate(dayNumber: number): string {
  const z = dayNumber + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  return `${y < 1000 ? String(y).padStart(4, '0') : y}-${pad2(m)}-${pad2(d)}`;
}

/** Seconds since midnight of a Postgres `time` ('09:00', '09:00:00', '24:00:00'). */
export function parseTimeOfDay(value: string): number {
  const m = /^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?$/.exec(value.trim());
  if (!m) throw new Error(`invalid time of day ${value}`);
  const seconds = Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3] ?? 0);
  if (Number(m[2]) > 59 || Number(m[3] ?? 0) > 59 || seconds > 86_400) {
    throw new Error(`invalid time of day ${value}`);
  }
  return seconds;
}

/** How far back a start may lie: a year (late entries, corrections). */
export const MAX_PAST_MS = 366 * DAY_MS;
/** How far ahead a start may lie: five years. */
export const MAX_FUTURE_MS = 5 * 366 * DAY_MS;
/** The longest appointment or preferred-time window. */
export const MAX_SPAN_MS = DAY_MS;

/**
 * Why a time range cannot be stored, or null when it can: starts more than a year back or five
 * years ahead of `now`, ends before it starts, or lasts longer than `maxSpanMs` (a day). Every path
 * that stores appointment times checks this (GraphQL booking, rescheduling, availability ranges,
 * callback windows, and Cal.com bookings), so a booking from 0000-01-01 to 9999-12-31 is refused
 * everywhere with the same reason.
 */
export function timeWindowProblem(
  startsAt: Date,
  endsAt: Date | null,
  now: Date,
  maxSpanMs: number = MAX_SPAN_MS,
): string | null {
  const start = startsAt.getTime();
  const at = now.getTime();
  if (Number.isNaN(start)) return 'the start is not a valid time';
  if (start < at - MAX_PAST_MS) return 'the start is more than a year in the past';
  if (start > at + MAX_FUTURE_MS) return 'the start is more than five years ahead';
  if (endsAt) {
    const end = endsAt.getTime();
    if (Number.isNaN(end)) return 'the end is not a valid time';
    if (end <= start) return 'the end is not after the start';
    if (end - start > maxSpanMs) {
      return `it lasts longer than ${Math.round(maxSpanMs / HOUR_MS)} hours`;
    }
  }
  return null;
}
