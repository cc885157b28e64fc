import type { ApolloServerPlugin } from '@apollo/server';
import type { RequestHandler } from 'express';
import type { GraphQLSchema } from 'graphql';
import type { AppDeps } from '../../context/deps';
import type { GraphQLContext } from '../context';
import { loadPersistedOperations } from './persisted-operations';
import { createLimitsPlugin } from './plugin';
import { createLimitsRuntime } from './runtime';
import { staticLimitsMiddleware } from './static-limits';

/**
 * The GraphQL API's abuse protection (docs/api-limits.md): static limits in front of Apollo
 * Server, and the points buckets, answer-size cap and statement-timeout reporting as a plugin.
 */
export async function createGraphqlLimits<TContext extends GraphQLContext>(
  deps: AppDeps,
  schema: GraphQLSchema,
): Promise<{
  middleware: RequestHandler;
  plugin: ApolloServerPlugin<TContext>;
  close(): Promise<void>;
}> {
  const limits = deps.config.graphqlLimits;
  if (limits.benchDisable) {
    return { middleware: (_req, _res, next) => next(), plugin: {}, close: async () => undefined };
  }
  const runtime = createLimitsRuntime(deps);
  await runtime.refreshCompanyLimits();
  const persisted = limits.persistedOperationsFile
    ? loadPersistedOperations(limits.persistedOperationsFile)
    : undefined;
  return {
    middleware: staticLimitsMiddleware({ schema, limits, persisted, hits: runtime.hits }),
    plugin: createLimitsPlugin<TContext>(deps, schema, runtime),
    close: () => runtime.close(),
  };
}
