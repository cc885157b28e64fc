import type { IRuleTypeMap } from 'graphql-shield/typings/types';
import { allowFields, connectionRules, read, write } from '../graphql/shield-rules';

/** Who may use these fields: staff and working hours (catalog). Registered in ./permissions.ts. */
export const staffRules: IRuleTypeMap = {
  Query: {
    staffMembers: read('catalog'),
    workingHours: read('catalog'),
  },
  Mutation: {
    createStaff: write('catalog'),
    updateStaff: write('catalog'),
    archiveStaff: write('catalog'),
    createWorkingHour: write('catalog'),
    deleteWorkingHour: write('catalog'),
  },
  Staff: {
    ...allowFields(['id', 'name', 'color', 'archivedAt', 'createdAt', 'branch']),
    // Staff are reached through appointments, slots and callbacks: contact details need catalog.
    email: read('catalog'),
    phoneE164: read('catalog'),
  },
  WorkingHour: allowFields([
    'id',
    'weekday',
    'startsAt',
    'endsAt',
    'validFrom',
    'validUntil',
    'staff',
    'branch',
  ]),
  ...connectionRules('Staff'),
  ...connectionRules('WorkingHour'),
};
