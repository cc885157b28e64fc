import { timeWindowProblem } from './time';
import { DateTime } from 'luxon';
import type { Actor } from '../context/actor';
import type { AppointmentSource } from '../domain/enums';
import { badInput } from '../errors/app-error';

/**
 * Refuses a time range outside the window every stored time must lie in (see `timeWindowProblem`:
 * a year back, five years ahead, at most a day long unless `maxSpanMs` says otherwise).
 */
export function checkTimeWindow(
  field: string,
  startsAt: Date,
  endsAt: Date | null,
  now: Date,
  maxSpanMs?: number,
): void {
  const problem = timeWindowProblem(startsAt, endsAt, now, maxSpanMs);
  if (problem) throw badInput(field, `${field} is out of range: ${problem}`, { reason: problem });
}

/** A Date, or an ISO 8601 date-time with an offset; anything else is BAD_USER_INPUT on `field`. */
export function parseInstant(value: unknown, field: string): Date {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw badInput(field, `${field} is not a valid date-time`);
    return value;
  }
  if (typeof value === 'string') {
    const dt = DateTime.fromISO(value.trim(), { setZone: true });
    if (dt.isValid && /T/.test(value) && /(Z|[+-]\d{2}(:?\d{2})?)$/i.test(value.trim())) {
      return dt.toJSDate();
    }
  }
  throw badInput(field, `${field} must be an ISO 8601 date-time with an offset`);
}

/** The channel a change came through, for metrics, when the caller does not name one. */
export function sourceOfActor(actor: Actor): AppointmentSource {
  if (actor.kind === 'system' && actor.name === 'voice_agent') return 'phone';
  if (actor.kind === 'system' && actor.name === 'webhook') return 'calcom';
  if (actor.kind === 'api_token') return 'web';
  return 'manual';
}

export function userIdOf(actor: Actor): string | null {
  return actor.kind === 'user' ? actor.userId : null;
}
