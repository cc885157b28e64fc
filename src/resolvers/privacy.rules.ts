import type { IRuleTypeMap } from 'graphql-shield/typings/types';
import { adminOrSuperAdmin, allowFields } from '../graphql/shield-rules';

/**
 * Who may use these fields: A person's export and erasure, for company admins. Registered in
 * ./permissions.ts.
 */
export const privacyRules: IRuleTypeMap = {
  Query: {
    exportCustomerData: adminOrSuperAdmin,
  },
  Mutation: {
    eraseCustomer: adminOrSuperAdmin,
  },
  CustomerErasure: allowFields(['customerId', 'rows']),
};
