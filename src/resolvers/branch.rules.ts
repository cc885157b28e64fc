import type { IRuleTypeMap } from 'graphql-shield/typings/types';
import { allowFields, connectionRules, read, write } from '../graphql/shield-rules';

/** Who may use these fields: branches (catalog). Registered in ./permissions.ts. */
export const branchRules: IRuleTypeMap = {
  Query: {
    branches: read('catalog'),
  },
  Mutation: {
    createBranch: write('catalog'),
    updateBranch: write('catalog'),
    archiveBranch: write('catalog'),
  },
  Branch: allowFields([
    'id',
    'name',
    'address',
    'phoneE164',
    'timezone',
    'archivedAt',
    'createdAt',
  ]),
  ...connectionRules('Branch'),
};
