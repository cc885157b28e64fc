import type { IRuleTypeMap } from 'graphql-shield/typings/types';
import { allowFields, signedIn, superAdmin, write } from '../graphql/shield-rules';

/**
 * Who may use these fields: the current company and the platform's companies and admins.
 * Registered in ./permissions.ts.
 */
export const companyRules: IRuleTypeMap = {
  Query: {
    company: signedIn,
    companies: superAdmin,
  },
  Mutation: {
    updateCompany: write('company'),
    createPlatformAdmin: superAdmin,
  },
  PlatformAdmin: allowFields(['id', 'email', 'name']),
  Company: allowFields([
    'id',
    'name',
    'slug',
    'timezone',
    'defaultRegion',
    'currency',
    'createdAt',
  ]),
};
