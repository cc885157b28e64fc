import type { IRuleTypeMap } from 'graphql-shield/typings/types';
import { allowFields, connectionRules, read } from '../graphql/shield-rules';

/** Who may use these fields: the company's activity log. Registered in ./permissions.ts. */
export const activityLogRules: IRuleTypeMap = {
  Query: {
    activityLogs: read('activity'),
  },
  ActivityLog: allowFields([
    'id',
    'actorType',
    'actorId',
    'action',
    'subjectType',
    'subjectId',
    'reason',
    'details',
    'requestId',
    'createdAt',
  ]),
  ...connectionRules('ActivityLog'),
};
