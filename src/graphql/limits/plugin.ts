import type { ApolloServerPlugin, GraphQLRequestContextWillSendResponse } from '@apollo/server';
import { GraphQLError, type GraphQLSchema } from 'graphql';
import type { AppDeps } from '../../context/deps';
import type { GraphQLContext } from '../context';
import { actualCost, measureAnswer, operationCost } from './cost-model';
import type { LimitsRuntime } from './runtime';
import { staticCostOf } from './static-limits';

/** Postgres: canceling statement due to statement timeout. */
const QUERY_CANCELED = '57014';

function pgCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let i = 0; i < 5 && current && typeof current === 'object'; i += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
    current =
      (current as { originalError?: unknown; cause?: unknown }).originalError ??
      (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * Charges each operation's cost to the caller's points buckets (company, and the API token's own),
 * refuses it with RATE_LIMITED and Retry-After when a bucket is empty, refunds what the answer
 * shows was not used, and reports the cost and the bucket in `extensions.cost` and `RateLimit-*`
 * headers. At run time it caps the size of the answer and turns a statement timeout into a clear
 * error; every limit hit is counted with the company.
 */
export function createLimitsPlugin<TContext extends GraphQLContext>(
  deps: AppDeps,
  schema: GraphQLSchema,
  runtime: LimitsRuntime,
): ApolloServerPlugin<TContext> {
  const limits = deps.config.graphqlLimits;
  const { store, hits } = runtime;

  const setHeaders = (
    response: GraphQLRequestContextWillSendResponse<TContext>['response'],
    bucket: { limit: number; remaining: number; resetSeconds: number; windowSeconds: number },
  ) => {
    const headers = response.http.headers;
    headers.set('ratelimit-limit', String(bucket.limit));
    headers.set('ratelimit-remaining', String(bucket.remaining));
    headers.set('ratelimit-reset', String(bucket.resetSeconds));
    headers.set('ratelimit-policy', `${bucket.limit};w=${bucket.windowSeconds}`);
  };

  return {
    async requestDidStart({ request }) {
      const fromStatic = staticCostOf(request.http?.body);
      let requested: number | undefined;
      let operationType: string | undefined;
      let refused: { retryAfter: number } | undefined;
      let timedOut = false;
      return {
        async didResolveOperation({ contextValue, document, request, operation }) {
          const { ctx } = contextValue;
          operationType = operation?.operation;
          requested =
            fromStatic?.cost ??
            operationCost(schema, document, request.variables, request.operationName);
          const buckets = await runtime.bucketsFor(ctx);
          if (requested === 0) {
            const states = await Promise.all(buckets.map((b) => store.peek(b.key, b.limit)));
            runtime.setState(ctx, {
              requested,
              buckets: buckets.map((b, i) => ({ ...b, ...states[i] })),
            });
            return;
          }
          const results = await Promise.all(
            buckets.map((b) => store.consume(b.key, requested as number, b.limit)),
          );
          runtime.setState(ctx, {
            requested,
            buckets: buckets.map((b, i) => ({ ...b, ...results[i] })),
          });
          const empty = results.findIndex((r) => !r.allowed);
          if (empty < 0) return;
          // Give back what the other buckets took: a refused operation costs nothing.
          results.forEach((r, i) => {
            if (r.allowed && !r.failOpen) store.refund(buckets[i].key, requested as number);
          });
          const bucket = results[empty];
          refused = { retryAfter: bucket.resetSeconds };
          hits.countFor('points', ctx.companyId);
          deps.metrics.rateLimitRejections.inc({ limiter: 'graphql_points' });
          throw new GraphQLError(
            `The ${buckets[empty].scope} points bucket holds ${bucket.remaining} of ${bucket.limit} points; this operation costs ${requested}. Try again in ${bucket.resetSeconds} s.`,
            {
              extensions: {
                code: 'RATE_LIMITED',
                limit: 'points',
                scope: buckets[empty].scope,
                cost: requested,
                remaining: bucket.remaining,
                retryAfterSeconds: bucket.resetSeconds,
                http: { status: 429 },
              },
            },
          );
        },
        async didEncounterErrors({ errors, contextValue }) {
          if (timedOut) return;
          if (errors.some((e) => pgCode(e) === QUERY_CANCELED)) {
            timedOut = true;
            hits.countFor('statementTimeout', contextValue?.ctx?.companyId ?? null);
          }
        },
        async willSendResponse({ contextValue, response }) {
          const ctx = contextValue?.ctx;
          const charged = ctx ? runtime.stateOf(ctx) : undefined;
          if (response.body.kind !== 'single') return;
          const result = response.body.singleResult;
          const requestId = ctx?.requestId;
          if (timedOut) {
            result.data = null;
            result.errors = [
              {
                message: `The operation ran longer than the statement timeout of ${limits.statementTimeoutMs} ms`,
                extensions: {
                  code: 'QUERY_LIMIT_EXCEEDED',
                  limit: 'statementTimeout',
                  max: limits.statementTimeoutMs,
                  requestId,
                },
              },
            ];
          }
          // One walk gives the answer's size (estimated; exact when near the cap) and its objects.
          const measured = result.data ? measureAnswer(result.data) : undefined;
          if (!timedOut && result.data && measured) {
            const bytes =
              measured.bytes > limits.maxResponseBytes / 2
                ? Buffer.byteLength(JSON.stringify(result.data), 'utf8')
                : measured.bytes;
            if (bytes > limits.maxResponseBytes) {
              hits.countFor('responseSize', ctx?.companyId ?? null);
              result.data = null;
              result.errors = [
                {
                  message: `The answer would be ${bytes} bytes, more than the limit of ${limits.maxResponseBytes}; ask for fewer items`,
                  extensions: {
                    code: 'QUERY_LIMIT_EXCEEDED',
                    limit: 'responseSize',
                    max: limits.maxResponseBytes,
                    actual: bytes,
                    requestId,
                  },
                },
              ];
            }
          }
          if (!charged) return;
          let actual: number | undefined;
          if (!refused && requested !== undefined) {
            actual =
              result.data === undefined || result.data === null
                ? requested
                : actualCost(
                    result.data,
                    requested,
                    operationType as 'query' | undefined,
                    measured?.objects,
                  );
            const refund = requested - actual;
            if (refund > 0) {
              // Settled in the background: the answer reports the bucket as it will be after.
              for (const b of charged.buckets) {
                if (b.failOpen) continue;
                store.refund(b.key, refund);
                b.remaining = Math.min(b.limit, b.remaining + refund);
              }
            }
          }
          const tightest = charged.buckets.reduce((a, b) => (b.remaining < a.remaining ? b : a));
          setHeaders(response, tightest);
          if (refused) response.http.headers.set('retry-after', String(refused.retryAfter));
          result.extensions = {
            ...result.extensions,
            cost: {
              requestedQueryCost: charged.requested,
              actualQueryCost: refused ? 0 : (actual ?? null),
              throttleStatus: {
                scope: tightest.scope,
                maximumAvailable: tightest.limit,
                currentlyAvailable: tightest.remaining,
                restoreRate: tightest.limit,
                windowSeconds: tightest.windowSeconds,
                resetInSeconds: tightest.resetSeconds,
              },
            },
          };
        },
      };
    },
  };
}
