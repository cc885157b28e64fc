import { AppError } from '../errors/app-error';

/** A UUID in its canonical text form, any case: the shape of every row id and company id. */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID_PATTERN.test(value);
}

/**
 * An id from input. A malformed id cannot name any row, so it is NOT_FOUND like an unknown one
 * (and never reaches Postgres, where it would be a cast error).
 */
export function requireId(value: unknown, field: string, what: string): string {
  if (!isUuid(value)) throw new AppError('NOT_FOUND', `${what} not found`, { field });
  return value.toLowerCase();
}

export function optionalId(value: unknown, field: string, what: string): string | null {
  if (value === undefined || value === null) return null;
  return requireId(value, field, what);
}
