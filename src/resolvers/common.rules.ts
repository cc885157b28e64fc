import type { IRuleTypeMap } from 'graphql-shield/typings/types';
import { allowFields } from '../graphql/shield-rules';

/** Who may use these fields: types shared by every connection. Registered in ./permissions.ts. */
export const commonRules: IRuleTypeMap = {
  PageInfo: allowFields(['hasNextPage', 'hasPreviousPage', 'startCursor', 'endCursor']),
};
