import type { IRuleTypeMap } from 'graphql-shield/typings/types';
import { allowFields, connectionRules, read } from '../graphql/shield-rules';

/**
 * Who may use these fields: appointments as read; booking and its changes are in
 * scheduling.rules.ts. Registered in ./permissions.ts.
 */
export const appointmentRules: IRuleTypeMap = {
  Query: {
    appointments: read('appointments'),
  },
  Appointment: {
    ...allowFields([
      'id',
      'startsAt',
      'endsAt',
      'status',
      'source',
      'notes',
      'priceCents',
      'rescheduleCount',
      'calcomBookingUid',
      'confirmedAt',
      'cancelledAt',
      'cancelledBy',
      'cancellationReason',
      'createdAt',
      'staff',
      'service',
      'branch',
      'rescheduledFrom',
    ]),
    customer: read('customers'),
    call: read('calls'),
  },
  ...connectionRules('Appointment'),
};
