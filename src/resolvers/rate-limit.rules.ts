import type { IRuleTypeMap } from 'graphql-shield/typings/types';
import { allowFields, signedIn, superAdmin } from '../graphql/shield-rules';

/**
 * Who may use these fields: graphQL limits (docs/api-limits.md): the caller's own points bucket,
 * free to read; a company's limit is set by super admins only. Registered in ./permissions.ts.
 */
export const rateLimitRules: IRuleTypeMap = {
  Query: {
    rateLimit: signedIn,
  },
  Mutation: {
    setCompanyApiPointsLimit: superAdmin,
  },
  RateLimit: allowFields([
    'scope',
    'limit',
    'remaining',
    'used',
    'cost',
    'resetAt',
    'windowSeconds',
    'maxOperationCost',
  ]),
  CompanyApiLimit: allowFields(['pointsPerWindow', 'effectivePointsPerWindow', 'windowSeconds']),
};
