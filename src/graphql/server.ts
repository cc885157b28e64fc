import express, { type Router } from 'express';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';
import { unwrapResolverError } from '@apollo/server/errors';
import { expressMiddleware } from '@as-integrations/express5';
import {
  GraphQLError,
  Kind,
  OperationTypeNode,
  visit,
  type DocumentNode,
  type GraphQLFormattedError,
  type GraphQLSchema,
} from 'graphql';
import { authenticateRequest, type LivenessRow } from '../auth/authenticate';
import { AuthService } from '../auth/auth.service';
import type { AppDeps } from '../context/deps';
import { actorId, actorLabel, type Actor } from '../context/actor';
import { registerReplicaRouter, ReplicaRouter } from '../db/replica';
import { limitersOf } from '../security/limits';
import { annotateRequestLog } from '../observability/http';
import { openRequestTransaction, RequestContext } from '../context/request-context';
import { isValueRefused } from '../db/errors';
import { AppError } from '../errors/app-error';
import { requestIdOf } from '../http/request-id';
import type { GraphQLContextValue } from './context';
import { applyPermissions } from './shield-rules';
import { PERMISSIONS } from '../resolvers/permissions';
import { buildAppSchema } from './schema';
import { playgroundRouter, wantsPlayground } from './playground';
import { createGraphqlLimits } from './limits';
import { staticCostOf } from './limits/static-limits';

/** Errors whose code and message are safe to show as they are. */
const CLIENT_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  // From authentication (a super admin naming a company that does not exist).
  'NOT_FOUND',
  'RATE_LIMITED',
  'QUERY_LIMIT_EXCEEDED',
]);

export function formatError(
  formatted: GraphQLFormattedError,
  error: unknown,
): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  if (original instanceof AppError && original.code !== 'INTERNAL') {
    return {
      message: original.message,
      locations: formatted.locations,
      path: formatted.path,
      extensions: {
        code: original.code,
        ...(original.field ? { field: original.field } : {}),
        ...(original.details ? { details: original.details } : {}),
      },
    };
  }
  // A value that slipped past validation and that Postgres refused is still the client's error.
  if (!(original instanceof GraphQLError) && isValueRefused(original)) {
    return {
      message: 'A value in the request cannot be stored',
      locations: formatted.locations,
      path: formatted.path,
      extensions: { code: 'BAD_USER_INPUT' },
    };
  }
  const code = formatted.extensions?.code;
  if (typeof code === 'string' && CLIENT_CODES.has(code) && !(original instanceof AppError)) {
    const { stacktrace: _s, ...extensions } = formatted.extensions ?? {};
    return { ...formatted, extensions };
  }
  return {
    message: 'Internal error',
    locations: formatted.locations,
    path: formatted.path,
    extensions: { code: 'INTERNAL' },
  };
}

/** A graphql-js message without its trailing "Did you mean ...?" suggestion. */
export function withoutSuggestions(message: string): string {
  const at = message.search(/\s*Did you mean /);
  return at === -1 ? message : message.slice(0, at);
}

function isInternal(error: unknown): boolean {
  const original = unwrapResolverError(error);
  if (original instanceof AppError) return original.code === 'INTERNAL';
  if (original instanceof GraphQLError) {
    const code = original.extensions?.code;
    return !(typeof code === 'string' && CLIENT_CODES.has(code));
  }
  return true;
}

/** The longest retry-after of RATE_LIMITED errors, for the `Retry-After` response header. */
function retryAfterSeconds(errors: readonly unknown[]): number | undefined {
  let longest: number | undefined;
  for (const error of errors) {
    const original = unwrapResolverError(error);
    if (!(original instanceof AppError) || original.code !== 'RATE_LIMITED') continue;
    const seconds = original.details?.retryAfterSeconds;
    if (typeof seconds === 'number' && (longest === undefined || seconds > longest)) {
      longest = seconds;
    }
  }
  return longest;
}

/** Whether a document asks for __schema or __type, by document: Apollo reuses a parsed one. */
const introspecting = new WeakMap<DocumentNode, boolean>();

function touchesIntrospection(document: DocumentNode): boolean {
  const known = introspecting.get(document);
  if (known !== undefined) return known;
  const found = findsIntrospection(document);
  introspecting.set(document, found);
  return found;
}

function findsIntrospection(document: DocumentNode): boolean {
  let found = false;
  visit(document, {
    [Kind.FIELD](node) {
      if (node.name.value === '__schema' || node.name.value === '__type') found = true;
    },
  });
  return found;
}

/**
 * Per request: declare the operation to the request context (which owns the transactions), commit
 * the request's read transaction before the answer leaves (a failed commit replaces the data with
 * an error), attach the request id, log internal errors.
 */
function requestPlugin(
  deps: AppDeps,
  replica?: ReplicaRouter,
): ApolloServerPlugin<GraphQLContextValue> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ contextValue, document, operation }) {
          // Before any resolver runs: a query reads in one READ ONLY transaction (on the read
          // replica when it is close enough and the actor wrote nothing it may lack); each root
          // mutation field runs in a transaction of its own (see graphql/schema.ts).
          const mutation = operation?.operation === OperationTypeNode.MUTATION;
          contextValue.ctx.beginOperation(
            mutation ? 'mutation' : 'query',
            mutation ? undefined : replica?.route(writerKey(contextValue.ctx.actor)),
          );
          if (touchesIntrospection(document) && contextValue.ctx.actor.kind === 'anonymous') {
            throw new GraphQLError('Sign in to explore the schema', {
              extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } },
            });
          }
        },
        async didEncounterErrors({ contextValue, errors, operationName, response }) {
          const retryAfter = retryAfterSeconds(errors);
          if (retryAfter !== undefined)
            response.http.headers.set('retry-after', String(retryAfter));
          for (const error of errors) {
            if (isInternal(error)) {
              deps.logger.error(
                {
                  err: unwrapResolverError(error),
                  requestId: contextValue.ctx.requestId,
                  operationName,
                },
                'graphql internal error',
              );
            }
          }
        },
        async willSendResponse({ contextValue, response, operation }) {
          const { ctx } = contextValue;
          try {
            await ctx.finish(true);
          } catch (err) {
            deps.logger.error({ err, requestId: ctx.requestId }, 'commit failed');
            if (response.body.kind === 'single') {
              response.body.singleResult.data = null;
              response.body.singleResult.errors = [
                { message: 'Internal error', extensions: { code: 'INTERNAL' } },
              ];
            }
          }
          // Every field committed: the actor's next reads must see it (read-your-writes).
          const writer = writerKey(ctx.actor);
          if (replica && writer && operation?.operation === OperationTypeNode.MUTATION) {
            await replica.noteWrite(writer);
          }
          if (response.body.kind === 'single' && response.body.singleResult.errors) {
            // Anonymous callers get no schema hints: "Did you mean ...?" would let them map the
            // schema field by field without introspection.
            const anonymous = ctx.actor.kind === 'anonymous';
            response.body.singleResult.errors = response.body.singleResult.errors.map((e) => ({
              ...e,
              ...(anonymous ? { message: withoutSuggestions(e.message) } : {}),
              extensions: { ...e.extensions, requestId: ctx.requestId },
            }));
          }
        },
      };
    },
  };
}

/** Whose writes a later read must see: a user, an API token or a platform admin. */
function writerKey(actor: Actor): string | undefined {
  return actorId(actor) ? actorLabel(actor) : undefined;
}

/** The read replica router, when DATABASE_REPLICA_URL is set (docs/scaling.md). */
function createReplicaRouter(deps: AppDeps): ReplicaRouter | undefined {
  const { config, db } = deps;
  if (!config.replica || !db.replica) return undefined;
  const limiters = limitersOf(deps);
  const redis = limiters.redis;
  const router = new ReplicaRouter({
    primary: db.knex,
    replica: db.replica,
    probe: db.replicaProbe,
    maxLagMs: config.replica.maxLagMs,
    probeIntervalMs: config.replica.probeIntervalMs,
    metrics: deps.metrics,
    logger: deps.logger,
    shared: redis
      ? {
          redis,
          key: (actor) => `${limiters.prefixFor('replica-write')}:${actor}`,
          ready: () => limiters.ready(),
        }
      : undefined,
  });
  registerReplicaRouter(deps, router);
  return router;
}

export interface GraphQLMount {
  router: Router;
  /** The executable schema with its permissions, for the subscription socket (src/live/server.ts). */
  schema: GraphQLSchema;
  /** The read replica router, when one is configured. */
  replica?: ReplicaRouter;
  stop(): Promise<void>;
}

/** Apollo Server at /graphql (POST and GET), with the playground for browsers. */
export async function createGraphQL(
  deps: AppDeps,
  extraPlugins: ApolloServerPlugin<GraphQLContextValue>[] = [],
): Promise<GraphQLMount> {
  const { config } = deps;
  const base = buildAppSchema();
  const schema = config.benchDisableShield ? base : applyPermissions(base, PERMISSIONS);
  const auth = new AuthService(deps);
  const limits = await createGraphqlLimits(deps, schema);
  const openReadTransaction = (companyId: string, firstQuery: string) =>
    openRequestTransaction<LivenessRow>(
      deps,
      {
        companyId,
        readOnly: true,
        statementTimeoutMs: config.graphqlLimits.statementTimeoutMs,
      },
      firstQuery,
    );
  const replica = createReplicaRouter(deps);
  const apollo = new ApolloServer<GraphQLContextValue>({
    schema,
    introspection: config.introspection,
    includeStacktraceInErrorResponses: false,
    // Authentication is by bearer header only (no cookies), so a cross-site form post carries no
    // credentials; GET queries without a preflight header are therefore safe to accept.
    csrfPrevention: false,
    formatError,
    plugins: [
      ApolloServerPluginLandingPageDisabled(),
      // No HTTP caching of GraphQL answers here; without this Apollo wraps every field resolver to
      // compute cache hints, which measured about 15% of the server CPU of a page of appointments.
      ApolloServerPluginCacheControlDisabled(),
      requestPlugin(deps, replica),
      limits.plugin,
      ...extraPlugins,
    ],
  });
  await apollo.start();
  // Measures the replica in the background, outside any request.
  replica?.start();

  const router = express.Router();
  if (config.playground) {
    router.use('/playground', playgroundRouter());
    router.get('/graphql', (req, res, next) => {
      if (wantsPlayground(req)) res.redirect(302, '/playground');
      else next();
    });
  }
  router.use(
    '/graphql',
    express.json({ limit: '1mb' }),
    limits.middleware,
    expressMiddleware(apollo, {
      context: async ({ req, res }): Promise<GraphQLContextValue> => {
        let authentication;
        try {
          // A query (as the static checks found it) reads in one READ ONLY transaction: opened
          // here, with the session check in its first round trip. With a read replica the check
          // stays a statement of its own on the primary (a logout must take effect at once), and
          // the query's transaction is opened later, on the replica when it is usable.
          const reads = !replica && staticCostOf(req.body)?.operation === OperationTypeNode.QUERY;
          authentication = await authenticateRequest(
            deps,
            req,
            reads ? { openReadTransaction } : undefined,
          );
        } catch (err) {
          if (err instanceof AppError) {
            throw new GraphQLError(err.message, {
              extensions: {
                code: err.code,
                ...(err.field ? { field: err.field } : {}),
                ...(err.details ? { details: err.details } : {}),
                requestId: requestIdOf(req),
                http: { status: err.httpStatus },
              },
            });
          }
          deps.logger.error({ err, requestId: requestIdOf(req) }, 'authentication failed');
          throw new GraphQLError('Internal error', {
            extensions: { code: 'INTERNAL', requestId: requestIdOf(req), http: { status: 500 } },
          });
        }
        const ctx = new RequestContext({
          deps,
          actor: authentication.actor,
          companyId: authentication.companyId,
          requestId: requestIdOf(req),
          ip: req.ip,
          statementTimeoutMs: config.graphqlLimits.statementTimeoutMs,
          readTransaction: authentication.transaction,
        });
        if (authentication.transaction) {
          // Apollo Server refuses some malformed requests (variables sent as a string, ...) after
          // building the context but before any plugin hook, so `willSendResponse` never commits.
          // Whatever is still open when the response is over is rolled back, so a request can
          // never keep a pooled connection.
          res.once('close', () => {
            ctx
              .finish(false)
              .catch((err: unknown) =>
                deps.logger.error({ err, requestId: ctx.requestId }, 'rollback failed'),
              );
          });
        }
        annotateRequestLog(req, {
          companyId: ctx.companyId ?? undefined,
          userId: actorId(ctx.actor) ?? undefined,
          actorKind: ctx.actor.kind,
        });
        return { ctx, auth };
      },
    }),
  );
  return {
    router,
    schema,
    replica,
    stop: async () => {
      await replica?.stop();
      await apollo.stop();
      await limits.close();
    },
  };
}
