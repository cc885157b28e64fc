import type { IRuleTypeMap } from 'graphql-shield/typings/types';
import { allowFields, connectionRules, superAdmin } from '../graphql/shield-rules';

/**
 * Who may use these fields: the platform audit log (super admins only). Registered in
 * ./permissions.ts.
 */
export const platformAuditRules: IRuleTypeMap = {
  Query: {
    platformAuditLog: superAdmin,
  },
  PlatformAuditEntry: allowFields([
    'id',
    'at',
    'actorType',
    'actorId',
    'action',
    'targetCompanyId',
    'details',
    'requestId',
    'ip',
  ]),
  ...connectionRules('PlatformAuditEntry'),
};
