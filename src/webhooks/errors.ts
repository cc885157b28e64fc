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

export const DOUBLE_BOOKING_CONSTRAINT = 'appointments_no_double_booking';
