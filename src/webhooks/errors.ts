/** The event itself can never be applied (a required field is missing): retrying cannot help. */
export class PermanentWebhookError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PermanentWebhookError';
  }
}

/**
 * The booking's time is taken for its staff member (the appointments_no_double_booking exclusion
 * constraint). Retried with backoff: a cancellation or reschedule still in the inbox may free it.
 */
export class BookingConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BookingConflictError';
  }
}

/** The Postgres SQLSTATE of an error, looking through the wrappers objection and knex add. */
export function sqlStateOf(err: unknown): { code?: string; constraint?: string } {
  let current: unknown = err;
  for (let i = 0; i < 4 && current && typeof current === 'object'; i++) {
    const e = current as {
      code?: unknown;
      constraint?: unknown;
      nativeError?: unknown;
      cause?: unknown;
    };
    if (typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) {
      return {
        code: e.code,
        constraint: typeof e.constraint === 'string' ? e.constraint : undefined,
      };
    }
    current = e.nativeError ?? e.cause;
  }
  return {};
}

export const EXCLUSION_VIOLATION = '23P01';
export const DOUBLE_BOOKING_CONSTRAINT = 'appointments_no_double_booking';
