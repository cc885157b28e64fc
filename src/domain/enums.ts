/** Value sets shared by the database constraints, the models and the GraphQL enums. */
export const APPOINTMENT_STATUSES = [
  'scheduled',
  'confirmed',
  'completed',
  'no_show',
  'cancelled',
] as const;
export type AppointmentStatus = (typeof APPOINTMENT_STATUSES)[number];

export const APPOINTMENT_SOURCES = ['phone', 'web', 'calcom', 'manual'] as const;
export type AppointmentSource = (typeof APPOINTMENT_SOURCES)[number];

export const USER_ROLES = ['admin', 'manager', 'staff'] as const;
export type UserRole = (typeof USER_ROLES)[number];
