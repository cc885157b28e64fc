import type { IRuleTypeMap } from 'graphql-shield/typings/types';
import { allowFields, chain, read, write, writeWhenArg } from '../graphql/shield-rules';

/**
 * Who may use these fields: availability, booking, rescheduling, cancellation, policies and
 * callbacks (the scheduling services). Registered in ./permissions.ts.
 */
export const schedulingRules: IRuleTypeMap = {
  Query: {
    availableSlots: read('appointments'),
  },
  Mutation: {
    // Finding or creating the customer by phone is a customer write for API tokens.
    bookAppointment: chain(
      write('appointments'),
      writeWhenArg('bookingCustomer', ['input', 'customer']),
    ),
    rescheduleAppointment: write('appointments'),
    cancelAppointment: write('appointments'),
    confirmAppointment: write('appointments'),
    completeAppointment: write('appointments'),
    markNoShow: write('appointments'),
    savePolicy: write('policies'),
    deletePolicy: write('policies'),
    createCallbackRequest: write('callbacks'),
    assignCallbackRequest: write('callbacks'),
    markCallbackContacted: write('callbacks'),
    completeCallbackRequest: write('callbacks'),
    expireCallbackRequest: write('callbacks'),
  },
  Availability: allowFields([
    'timeZone',
    'durationMinutes',
    'bufferMinutes',
    'earliestStart',
    'latestStart',
    'slots',
    'pageInfo',
  ]),
  AvailableSlot: allowFields(['startsAt', 'endsAt', 'start', 'staff', 'cursor']),
  BookAppointmentPayload: {
    ...allowFields(['appointment', 'customerCreated', 'overriddenRules']),
    customer: read('customers'),
  },
  ReschedulePayload: allowFields(['appointment', 'previous', 'overriddenRules']),
  CancelPayload: allowFields(['appointment', 'late', 'feeCents', 'overriddenRules']),
};
