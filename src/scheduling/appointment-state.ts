import type { AppointmentStatus } from '../domain/enums';
import { AppError } from '../errors/app-error';

/**
 * The appointment life cycle, in one place:
 *
 *   scheduled ──confirm──▶ confirmed
 *   scheduled | confirmed ──complete──▶ completed      (only once it has started)
 *   scheduled | confirmed ──no_show──▶ no_show         (only once it has started)
 *   scheduled | confirmed ──cancel──▶ cancelled
 *   scheduled | confirmed ──reschedule──▶ cancelled (reason 'rescheduled') + a new scheduled one
 *
 * completed, no_show and cancelled are final. Completing or marking a no-show is allowed from
 * scheduled as well as confirmed: many phone bookings are never confirmed explicitly, and a
 * customer who never confirmed is the most common no-show.
 */

export const APPOINTMENT_ACTIONS = [
  'confirm',
  'complete',
  'no_show',
  'cancel',
  'reschedule',
] as const;
export type AppointmentAction = (typeof APPOINTMENT_ACTIONS)[number];

interface TransitionRule {
  from: readonly AppointmentStatus[];
  to: AppointmentStatus;
  /** Allowed only once the appointment has started. */
  afterStart?: boolean;
  /** Allowed only until the appointment has ended. */
  beforeEnd?: boolean;
  verb: string;
}

export const APPOINTMENT_TRANSITIONS: Readonly<Record<AppointmentAction, TransitionRule>> = {
  confirm: { from: ['scheduled'], to: 'confirmed', beforeEnd: true, verb: 'confirmed' },
  complete: {
    from: ['scheduled', 'confirmed'],
    to: 'completed',
    afterStart: true,
    verb: 'completed',
  },
  no_show: {
    from: ['scheduled', 'confirmed'],
    to: 'no_show',
    afterStart: true,
    verb: 'marked as a no-show',
  },
  cancel: { from: ['scheduled', 'confirmed'], to: 'cancelled', verb: 'cancelled' },
  reschedule: { from: ['scheduled', 'confirmed'], to: 'cancelled', verb: 'rescheduled' },
};

export interface AppointmentTiming {
  status: AppointmentStatus;
  startsAt: Date;
  endsAt: Date;
}

const LABEL: Record<AppointmentStatus, string> = {
  scheduled: 'scheduled',
  confirmed: 'confirmed',
  completed: 'completed',
  no_show: 'marked as a no-show',
  cancelled: 'cancelled',
};

/** The reason an action is not possible now, or null when it is. */
export function transitionProblem(
  appointment: AppointmentTiming,
  action: AppointmentAction,
  now: Date,
): string | null {
  const rule = APPOINTMENT_TRANSITIONS[action];
  if (!rule.from.includes(appointment.status)) {
    return `The appointment is ${LABEL[appointment.status]}, so it cannot be ${rule.verb}`;
  }
  if (rule.afterStart && now.getTime() < appointment.startsAt.getTime()) {
    return `The appointment has not started yet, so it cannot be ${rule.verb}`;
  }
  if (rule.beforeEnd && now.getTime() >= appointment.endsAt.getTime()) {
    return `The appointment is already over, so it cannot be ${rule.verb}`;
  }
  return null;
}

/** The status after `action`, or BAD_USER_INPUT on `id` naming the current status. */
export function nextStatus(
  appointment: AppointmentTiming,
  action: AppointmentAction,
  now: Date,
): AppointmentStatus {
  const problem = transitionProblem(appointment, action, now);
  if (problem) {
    throw new AppError('BAD_USER_INPUT', problem, {
      field: 'id',
      details: {
        reason: 'INVALID_TRANSITION',
        currentStatus: appointment.status,
        action,
        allowed: allowedActions(appointment, now),
      },
    });
  }
  return APPOINTMENT_TRANSITIONS[action].to;
}

/** What can be done with the appointment now; for clients that show only possible actions. */
export function allowedActions(appointment: AppointmentTiming, now: Date): AppointmentAction[] {
  return APPOINTMENT_ACTIONS.filter((a) => transitionProblem(appointment, a, now) === null);
}
