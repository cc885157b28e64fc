import type { IRuleTypeMap } from 'graphql-shield/typings/types';
import { adminOrSuperAdmin, allowFields } from '../graphql/shield-rules';

/**
 * Who may use these fields: the webhook inbox: company admins see their company's events, super
 * admins all. Registered in ./permissions.ts.
 */
export const webhookEventRules: IRuleTypeMap = {
  Query: {
    webhookEvents: adminOrSuperAdmin,
    webhookStats: adminOrSuperAdmin,
  },
  Mutation: {
    replayWebhookEvent: adminOrSuperAdmin,
  },
  WebhookEvent: allowFields([
    'id',
    'provider',
    'eventType',
    'status',
    'attempts',
    'receivedAt',
    'nextAttemptAt',
    'processedAt',
    'lastError',
    'companyId',
    'replayCount',
    'lastReplayedAt',
    'payload',
  ]),
  WebhookEventEdge: allowFields(['node', 'cursor']),
  WebhookEventPageInfo: allowFields(['hasNextPage', 'endCursor']),
  WebhookEventConnection: allowFields(['edges', 'nodes', 'pageInfo']),
  WebhookStatusCount: allowFields(['provider', 'status', 'count', 'oldestReceivedAt']),
  WebhookStats: allowFields(['scope', 'since', 'counts', 'recentFailures']),
};
