import type { IRuleTypeMap } from 'graphql-shield/typings/types';
import { allowFields, connectionRules, read, write } from '../graphql/shield-rules';

/** Who may use these fields: customers and their notes. Registered in ./permissions.ts. */
export const customerRules: IRuleTypeMap = {
  Query: {
    customers: read('customers'),
  },
  Mutation: {
    createCustomer: write('customers'),
    updateCustomer: write('customers'),
    archiveCustomer: write('customers'),
    addCustomerNote: write('customerNotes'),
    deleteCustomerNote: write('customerNotes'),
  },
  Customer: {
    ...allowFields([
      'id',
      'name',
      'phoneE164',
      'email',
      'preferredLanguage',
      'archivedAt',
      'createdAt',
    ]),
    notes: read('customerNotes'),
  },
  CustomerNote: {
    ...allowFields(['id', 'body', 'createdAt', 'customer']),
    author: read('users'),
  },
  ...connectionRules('Customer'),
  ...connectionRules('CustomerNote'),
};
