import type { IRuleTypeMap } from 'graphql-shield/typings/types';
import { allowFields, read } from '../graphql/shield-rules';

/**
 * Who may use these fields: subscriptions (graphql-ws on /graphql). The rule is checked when the
 * subscription starts; each event is then reloaded in the subscriber's own tenant context, where
 * row level security, the resource's read rule and the staff ownership rule apply
 * (src/live/stream.ts). Registered in ./permissions.ts.
 */
export const liveRules: IRuleTypeMap = {
  Subscription: {
    appointmentChanged: read('appointments'),
    callChanged: read('calls'),
    callbackRequested: read('callbacks'),
    dashboardChanged: read('dashboard'),
  },
  AppointmentChange: allowFields(['action', 'appointment']),
  CallChange: allowFields(['action', 'call']),
  CallbackRequestChange: allowFields(['action', 'callbackRequest']),
  DashboardChange: allowFields(['reason', 'action', 'changedAt']),
};
