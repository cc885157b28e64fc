import { AppError } from '../errors/app-error';

interface PgError {
  code?: string;
  constraint?: string;
  column?: string;
}

/**
 * Maps a database error from a write to a client error with a stable code and the field it
 * concerns. `fields` maps constraint names to input field names. Anything unknown is rethrown
 * untouched, to be logged and answered as INTERNAL.
 */
export function translateDbError(err: unknown, fields: Record<string, string> = {}): never {
  if (err instanceof AppError) throw err;
  // Objection wraps driver errors (db-errors); the Postgres fields are on nativeError.
  const pg = ((err as { nativeError?: PgError })?.nativeError ?? err) as PgError;
  const constraint = pg?.constraint ?? '';
  const field = fields[constraint] ?? fieldFromConstraint(constraint);
  switch (pg?.code) {
    case '23505':
      throw new AppError('CONFLICT', `${field ?? 'value'} is already taken`, { field, cause: err });
    case '23503':
      throw new AppError('NOT_FOUND', `${field ?? 'referenced item'} not found`, {
        field,
        cause: err,
      });
    case '23514':
      throw new AppError('BAD_USER_INPUT', `${field ?? 'input'} is not allowed`, {
        field,
        cause: err,
      });
    case '23P01':
      throw new AppError('CONFLICT', 'The time slot is no longer free', {
        field: field ?? 'startsAt',
        details: { reason: 'SLOT_TAKEN' },
        cause: err,
      });
    case '22P02':
    case '22007':
    case '22008':
      throw new AppError('BAD_USER_INPUT', 'A value has the wrong format', { field, cause: err });
    default:
      throw err;
  }
}

// Constraint names follow `<table>_<column>_<kind>` (knex and schema-helpers); the column becomes a
// camelCase field name.
function fieldFromConstraint(constraint: string): string | undefined {
  const m = /^[a-z_]+?_((?:[a-z0-9]+_)*[a-z0-9]+?)_(?:unique|fkey|check|idx|key)$/.exec(constraint);
  if (!m) return undefined;
  const column = m[1].replace(/^company_id_/, '');
  return column.replace(/_([a-z0-9])/g, (_s, c: string) => c.toUpperCase());
}

export function isDbError(err: unknown, code: string): boolean {
  const pg = ((err as { nativeError?: PgError })?.nativeError ?? err) as PgError;
  return pg?.code === code;
}

/**
 * The SQLSTATE of a Postgres error, looking through the wrappers objection and knex add, or
 * undefined for anything that is not one.
 */
export function sqlStateOf(err: unknown): string | undefined {
  let current: unknown = err;
  for (let i = 0; i < 4 && current && typeof current === 'object'; i++) {
    const e = current as { code?: unknown; nativeError?: unknown; cause?: unknown };
    if (typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) return e.code;
    current = e.nativeError ?? e.cause;
  }
  return undefined;
}

/**
 * True for errors Postgres raises about a value it was given rather than about itself: data
 * exceptions (class 22: NUL bytes, bad encodings, out-of-range dates and numbers, malformed JSON)
 * and values beyond its limits (54000, 54001: an index row or nesting too large). The request was
 * at fault; the database is fine.
 */
export function isValueRefused(err: unknown): boolean {
  const code = sqlStateOf(err);
  return code !== undefined && (code.startsWith('22') || code === '54000' || code === '54001');
}
