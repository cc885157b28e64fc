import type { IRuleTypeMap } from 'graphql-shield/typings/types';
import { read, signedIn } from '../graphql/shield-rules';

/** Who may use these fields: `node`/`nodes`: signed in here; each type's read permission is checked in the resolver. Registered in ./permissions.ts. */
export const nodeRules: IRuleTypeMap = {
  Query: {
    node: signedIn, // each type's read permission is checked in the resolver
    nodes: signedIn,
  },
};
