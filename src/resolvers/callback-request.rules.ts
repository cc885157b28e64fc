import type { IRuleTypeMap } from 'graphql-shield/typings/types';
import { allowFields, connectionRules, read } from '../graphql/shield-rules';

/**
 * Who may use these fields: callback requests as read; their changes are in scheduling.rules.ts.
 * Registered in ./permissions.ts.
 */
export const callbackRequestRules: IRuleTypeMap = {
  Query: {
    callbackRequests: read('callbacks'),
  },
  CallbackRequest: {
    ...allowFields([
      'id',
      'phoneE164',
      'name',
      'reason',
      'preferredTimes',
      'priority',
      'status',
      'dueAt',
      'contactedAt',
      'completedAt',
      'resolution',
      'createdAt',
      'assignedStaff',
    ]),
    customer: read('customers'),
    call: read('calls'),
  },
  ...connectionRules('CallbackRequest'),
};
