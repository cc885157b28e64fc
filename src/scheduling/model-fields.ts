/**
 * Columns added by migrations/20261126003000_scheduling.ts, declared on the shared model so the
 * scheduling code is type-checked against them.
 */
declare module '../models/Appointment' {
  interface Appointment {
    /** The service's buffer at booking time; the staff member is busy until ends_at + this. */
    bufferMinutes: number;
  }
}

export {};
