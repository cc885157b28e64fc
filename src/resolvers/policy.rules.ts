import type { IRuleTypeMap } from 'graphql-shield/typings/types';
import { allowFields, connectionRules, read } from '../graphql/shield-rules';

/**
 * Who may use these fields: policy configurations as read; saving and deleting are in
 * scheduling.rules.ts. Registered in ./permissions.ts.
 */
export const policyRules: IRuleTypeMap = {
  Query: {
    policyConfigurations: read('policies'),
  },
  PolicyConfiguration: allowFields([
    'id',
    'policyType',
    'config',
    'active',
    'updatedAt',
    'branch',
    'service',
  ]),
  ...connectionRules('PolicyConfiguration'),
};
