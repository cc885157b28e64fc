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

export function isValidZone(name: string): boolean {
  return IANAZone.isValidZone(name);
}

/** UTC offset in minutes of `zone` at instant `ms`. */
export function offsetAt(zone: string, ms: number): number {
  return zoneOf(zone).offset(ms);
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
  const local = new Date(ms + offset * MINUTE_MS).toISOString().slice(0, 19);
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset);
  const hh = String(Math.floor(abs / 60)).padStart(2, '0');
  const mm = String(abs % 60).padStart(2, '0');
  return `${local}${sign}${hh}:${mm}`;
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
