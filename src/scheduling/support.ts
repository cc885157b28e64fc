import { timeWindowProblem } from './time';
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';
import type { Knex } from 'knex';
import { DateTime } from 'luxon';
import { actorId, actorType, type Actor } from '../context/actor';
import type { RequestContext } from '../context/request-context';
import type { AppointmentSource } from '../domain/enums';
import { AppError } from '../errors/app-error';
import { isValidZone } from './time';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * An id from input. A malformed id cannot name any row, so it is NOT_FOUND like an unknown one
 * (and never reaches Postgres, where it would be a cast error).
 */
export function requireId(value: unknown, field: string, what: string): string {
  if (typeof value !== 'string' || !UUID.test(value)) {
    throw new AppError('NOT_FOUND', `${what} not found`, { field });
  }
  return value.toLowerCase();
}

export function optionalId(value: unknown, field: string, what: string): string | null {
  if (value === undefined || value === null) return null;
  return requireId(value, field, what);
}

export function notFound(what: string, field: string): AppError {
  return new AppError('NOT_FOUND', `${what} not found`, { field });
}

export function badInput(field: string, message: string, details?: Record<string, unknown>) {
  return new AppError('BAD_USER_INPUT', message, { field, details });
}

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

export interface CompanySettings {
  timezone: string;
  defaultRegion: string;
}

/** The tenant's own company row (row level security shows no other), read once per request. */
export async function companySettings(
  ctx: RequestContext,
  trx: Knex.Transaction,
): Promise<CompanySettings> {
  const cached = ctx.cache.get('scheduling.company') as CompanySettings | undefined;
  if (cached) return cached;
  const row = await trx('companies').first<
    { timezone: string; default_region: string } | undefined
  >('timezone', 'default_region');
  if (!row) throw new AppError('NOT_FOUND', 'Company not found');
  const settings = {
    timezone: isValidZone(row.timezone) ? row.timezone : 'UTC',
    defaultRegion: row.default_region,
  };
  ctx.cache.set('scheduling.company', settings);
  return settings;
}

/** E.164 with the company's default region for national numbers, or BAD_USER_INPUT on `field`. */
export function normalisePhone(value: unknown, region: string, field: string): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw badInput(field, `${field} is required`);
  }
  const parsed = parsePhoneNumberFromString(value.trim(), region as CountryCode);
  if (!parsed || !parsed.isValid()) {
    throw badInput(field, `${field} is not a valid phone number`);
  }
  return parsed.number;
}

/** Optional free text, trimmed; empty means absent. */
export function optionalText(value: unknown, field: string, max: number): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw badInput(field, `${field} must be text`);
  const text = value.trim();
  if (text.length > max) throw badInput(field, `${field} must be at most ${max} characters`);
  return text === '' ? null : text;
}

/** How the acting party is written into appointments.cancelled_by: 'user:<id>', 'voice_agent'. */
export function actorLabel(actor: Actor): string {
  const id = actorId(actor);
  return id ? `${actorType(actor)}:${id}` : actorType(actor);
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
