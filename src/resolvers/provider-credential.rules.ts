import type { IRuleTypeMap } from 'graphql-shield/typings/types';
import { allowFields, connectionRules, read, superAdmin, write } from '../graphql/shield-rules';

/**
 * Who may use these fields: provider credentials per company and platform-wide telephony
 * assignment. Registered in ./permissions.ts.
 */
export const providerCredentialRules: IRuleTypeMap = {
  Query: {
    providerCredentials: read('webhooks'),
  },
  Mutation: {
    createProviderCredential: write('webhooks'),
    rotateProviderCredential: write('webhooks'),
    revokeProviderCredential: write('webhooks'),
    assignRetellAgent: superAdmin,
  },
  ProviderCredential: allowFields([
    'id',
    'provider',
    'label',
    'endpointId',
    'endpointPath',
    'active',
    'createdAt',
    'rotatedAt',
    'previousValidUntil',
    'revokedAt',
    'lastUsedAt',
  ]),
  ProviderCredentialSecret: allowFields(['secret', 'credential']),
  RetellAgent: allowFields(['id', 'agentId', 'name', 'active']),
  ...connectionRules('ProviderCredential'),
};
