import type { IRuleTypeMap } from 'graphql-shield/typings/types';
import { signedIn } from '../graphql/shield-rules';

/**
 * Who may use these fields: `node`/`nodes` need a signed-in caller here; each type's read
 * permission is checked in the resolver. Registered in ./permissions.ts.
 */
export const nodeRules: IRuleTypeMap = {
  Query: {
    node: signedIn,
    nodes: signedIn,
  },
};
