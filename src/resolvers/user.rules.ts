import type { IRuleTypeMap } from 'graphql-shield/typings/types';
import { allowFields, connectionRules, read, signedIn, write } from '../graphql/shield-rules';

/**
 * Who may use these fields: the viewer, company users and API tokens. Registered in
 * ./permissions.ts.
 */
export const userRules: IRuleTypeMap = {
  Query: {
    me: signedIn,
    users: read('users'),
    apiTokens: read('apiTokens'),
  },
  Mutation: {
    createUser: write('users'),
    updateUser: write('users'),
    createApiToken: write('apiTokens'),
    revokeApiToken: write('apiTokens'),
  },
  Viewer: allowFields(['actorType', 'name', 'email', 'roles', 'scopes', 'user', 'company']),
  CreatedApiToken: allowFields(['token', 'apiToken']),
  User: {
    ...allowFields(['id', 'email', 'name', 'roles', 'lastLoginAt', 'createdAt', 'disabled']),
    staff: read('catalog'),
  },
  ApiToken: allowFields([
    'id',
    'name',
    'tokenPrefix',
    'scopes',
    'expiresAt',
    'revokedAt',
    'lastUsedAt',
    'createdAt',
  ]),
  ...connectionRules('User'),
  ...connectionRules('ApiToken'),
};
