/**
 * Scheduling: availability, booking, policies, the appointment life cycle and callback requests.
 * GraphQL resolvers, the webhook worker and the voice-agent endpoints all call these services, so
 * each rule exists once. Every service takes the request context first.
 */
export {
  DEFAULT_SLOT_LIMIT,
  findAvailableSlots,
  MAX_RANGE_DAYS,
  MAX_SLOT_LIMIT,
  type AvailabilityResult,
  type AvailableSlot,
  type FindAvailableSlotsInput,
  type SlotPosition,
} from './availability';
export {
  bookAppointment,
  type BookAppointmentInput,
  type BookingCustomerInput,
  type BookingResult,
  type ProviderBooking,
} from './booking';
export {
  cancelAppointment,
  completeAppointment,
  confirmAppointment,
  markNoShow,
  rescheduleAppointment,
  type CancelAppointmentInput,
  type CancellationResult,
  type LifecycleOptions,
  type ProviderReschedule,
  type RescheduleAppointmentInput,
  type RescheduleResult,
} from './lifecycle';
export {
  allowedActions,
  APPOINTMENT_ACTIONS,
  APPOINTMENT_TRANSITIONS,
  nextStatus,
  type AppointmentAction,
} from './appointment-state';
export {
  DEFAULT_POLICIES,
  deletePolicy,
  effectivePolicy,
  listPolicies,
  POLICY_SETTINGS,
  POLICY_TYPES,
  upsertPolicy,
  validatePolicyConfig,
  type BookingPolicy,
  type CancellationPolicy,
  type EffectivePolicy,
  type EffectivePolicyScope,
  type ListPoliciesFilter,
  type PolicyConfigs,
  type PolicyScope,
  type PolicyType,
  type PolicyView,
  type ReschedulingPolicy,
  type UpsertPolicyInput,
} from './policies';
export { mayOverride, type OverrideInput } from './overrides';
export { findAppointment } from './queries';
export {
  assignCallbackRequest,
  CALLBACK_DUE_MINUTES,
  CALLBACK_PRIORITIES,
  CALLBACK_STATUSES,
  CALLBACK_TRANSITIONS,
  completeCallbackRequest,
  createCallbackRequest,
  expireCallbackRequest,
  listOverdueCallbackRequests,
  markCallbackContacted,
  nextCallbackStatus,
  type CallbackAction,
  type CallbackPriority,
  type CallbackStatus,
  type CreateCallbackRequestInput,
  type PreferredTime,
} from './callbacks';
export {
  computeSlots,
  evaluateStart,
  workingWindows,
  type BusyInterval,
  type Slot,
  type SlotRequest,
  type StaffSchedule,
  type WorkingHourRule,
} from './slots';
