import type { IRuleTypeMap } from 'graphql-shield/typings/types';
import { allowFields, read } from '../graphql/shield-rules';

/** Who may use these fields: the dashboard aggregates. Registered in ./permissions.ts. */
export const dashboardRules: IRuleTypeMap = {
  Query: {
    dashboard: read('dashboard'),
  },
  Dashboard: allowFields([
    'from',
    'to',
    'appointmentsByStatus',
    'upcomingToday',
    'callsToday',
    'callBookingRate',
    'openCallbackRequests',
  ]),
  StatusCount: allowFields(['status', 'count']),
};
