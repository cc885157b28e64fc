import { TenantModel } from './TenantModel';
import type { AppointmentSource, AppointmentStatus } from '../domain/enums';

export class Appointment extends TenantModel {
  static override tableName = 'appointments';

  customerId!: string;
  serviceId!: string;
  staffId!: string | null;
  branchId!: string | null;
  callId!: string | null;
  createdByUserId!: string | null;
  startsAt!: Date;
  endsAt!: Date;
  status!: AppointmentStatus;
  source!: AppointmentSource;
  calcomBookingUid!: string | null;
  notes!: string | null;
  priceCents!: number | null;
  rescheduleCount!: number;
  /** The service's buffer at booking time; the staff member is busy until ends_at + this. */
  bufferMinutes!: number;
  rescheduledFromId!: string | null;
  confirmedAt!: Date | null;
  cancelledAt!: Date | null;
  cancelledBy!: string | null;
  cancellationReason!: string | null;
}
