import type http from 'node:http';
import type { Request } from 'express';
import {
  GraphQLError,
  Kind,
  OperationTypeNode,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type ExecutionArgs,
  type GraphQLSchema,
} from 'graphql';
import { useServer, type Extra } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import { authenticateRequest, type Authentication } from '../auth/authenticate';
import type { Actor } from '../context/actor';
import type { AppDeps } from '../context/deps';
import { RequestContext } from '../context/request-context';
import { AppError } from '../errors/app-error';
import { operationCost } from '../graphql/limits/cost-model';
import { formatError } from '../graphql/server';
import { memoryBus, postgresBus, redisBus, type LiveBus } from './bus';
import type { LiveContext, LiveSocketHooks } from './stream';

/** Close codes of the subscription socket, beside graphql-ws's own. */
export const LIVE_CLOSE = {
  /** No, an invalid, expired or revoked token: sign in (or refresh) and reconnect. */
  unauthenticated: 4401,
  /** The token is valid but may not do this (suspended company, changed roles, foreign company). */
  forbidden: 4403,
  /** Too many sockets for the company or the token. */
  tooMany: 4429,
  /** The client did not read its events fast enough; reconnect and refetch. */
  slowConsumer: 1013,
  /** graphql-ws's own codes for a malformed request and a server failure. */
  badRequest: 4400,
  internal: 4500,
} as const;

/** What the client sends in `connection_init`. */
interface ConnectionParams {
  authorization?: unknown;
  Authorization?: unknown;
  token?: unknown;
  companyId?: unknown;
}

interface SocketState {
  socket: WebSocket;
  params: ConnectionParams;
  request: http.IncomingMessage;
  auth: Authentication;
  /** The session, API token or admin the socket is counted against. */
  key: string;
  companyId: string | null;
  lastCheck: number;
  checking?: Promise<boolean>;
  closed: boolean;
}

/** Builds the bus: Redis when REDIS_URL is set, else Postgres LISTEN/NOTIFY, else (PGlite) memory. */
export async function createLiveBus(deps: AppDeps): Promise<LiveBus> {
  const { config, logger } = deps;
  const redisUrl = config.redisUrl;
  if (redisUrl) {
    return redisBus({ url: redisUrl, prefix: `${config.redisKeyPrefix}-live`, logger });
  }
  const listenUrl = config.databaseDirectUrl ?? config.databaseUrl;
  if (deps.db.kind === 'pglite' || !listenUrl) return memoryBus(logger);
  return postgresBus({ notify: deps.db.knex, listenUrl, logger });
}

function tokenKey(actor: Actor): string {
  switch (actor.kind) {
    case 'user':
      return `session:${actor.sessionId}`;
    case 'api_token':
      return `token:${actor.tokenId}`;
    case 'platform_admin':
      return `admin:${actor.adminId}`;
    default:
      return `other:${actor.kind}`;
  }
}

/** connection_init's payload as the request that authenticateRequest reads. */
function asRequest(params: ConnectionParams, request: http.IncomingMessage): Request {
  const raw = params.authorization ?? params.Authorization ?? params.token;
  let authorization: string | undefined;
  if (typeof raw === 'string' && raw.length > 0 && raw.length <= 4096) {
    authorization = /^bearer\s/i.test(raw) ? raw : `Bearer ${raw}`;
  }
  const companyId = typeof params.companyId === 'string' ? params.companyId : undefined;
  const headers: Record<string, string | undefined> = {
    authorization,
    'x-company-id': companyId,
  };
  return {
    header: (name: string) => headers[name.toLowerCase()],
    method: 'WS',
    path: '/graphql',
    ip: request.socket.remoteAddress,
  } as unknown as Request;
}

function closeCodeOf(err: unknown): (typeof LIVE_CLOSE)[keyof typeof LIVE_CLOSE] {
  if (err instanceof AppError) {
    if (err.code === 'UNAUTHENTICATED') return LIVE_CLOSE.unauthenticated;
    if (err.code === 'FORBIDDEN' || err.code === 'NOT_FOUND') return LIVE_CLOSE.forbidden;
    if (err.code === 'BAD_USER_INPUT') return LIVE_CLOSE.badRequest;
  }
  return LIVE_CLOSE.internal;
}

function closeMessageOf(err: unknown): string {
  return err instanceof AppError && err.code !== 'INTERNAL' ? err.message : 'Internal error';
}

function sameActor(a: Actor, b: Actor): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export interface LiveServer {
  close(): Promise<void>;
}

/**
 * GraphQL subscriptions over WebSocket (the graphql-ws protocol) on the HTTP server's `/graphql`
 * path. The socket is authenticated in `connection_init` with the same access or API tokens as
 * HTTP; the token is checked again every SUBSCRIPTIONS_RECHECK_MS and before an event is delivered
 * when the last check is older than that, and a socket whose token was revoked, expired or lost its
 * company is closed (4401/4403). Only subscription operations run here; queries and mutations use
 * HTTP, where their transactions and limits are.
 */
export function attachLiveServer(
  deps: AppDeps,
  server: http.Server,
  schema: GraphQLSchema,
): LiveServer {
  const { config, logger, metrics } = deps;
  const limits = config.subscriptions;
  const wss = new WebSocketServer({
    server,
    path: '/graphql',
    maxPayload: config.graphqlLimits.maxDocumentBytes + 4096,
  });
  const gl = config.graphqlLimits;
  // The document limits of HTTP (src/graphql/limits/static-limits.ts) hold over the socket too.
  const rules = [
    ...specifiedRules,
    maxDepthRule({ n: gl.maxDepth }),
    maxAliasesRule({ n: gl.maxAliases }),
    maxDirectivesRule({ n: gl.maxDirectives }),
  ];
  const states = new WeakMap<object, SocketState>();
  const open = new Set<SocketState>();
  const perCompany = new Map<string, number>();
  const perToken = new Map<string, number>();
  const bump = (map: Map<string, number>, key: string, by: number) => {
    const n = (map.get(key) ?? 0) + by;
    if (n <= 0) map.delete(key);
    else map.set(key, n);
  };

  const closeSocket = (state: SocketState, code: number, reason: string, label: string) => {
    if (state.closed) return;
    metrics.liveSocketsClosed.inc({ reason: label });
    state.socket.close(code, reason.slice(0, 120));
  };

  /** Checks the socket's token again; closes the socket and answers false when it no longer holds. */
  const recheck = (state: SocketState): Promise<boolean> => {
    state.checking ??= (async () => {
      try {
        // A super admin's choice of company is audited once, when the socket opens; the re-check
        // is of the admin alone.
        const admin = state.auth.actor.kind === 'platform_admin';
        const params = admin ? { ...state.params, companyId: undefined } : state.params;
        const auth = await authenticateRequest(deps, asRequest(params, state.request));
        state.lastCheck = Date.now();
        if (
          !sameActor(auth.actor, state.auth.actor) ||
          (!admin && auth.companyId !== state.auth.companyId)
        ) {
          closeSocket(state, LIVE_CLOSE.forbidden, 'Permissions changed; reconnect', 'forbidden');
          return false;
        }
        return true;
      } catch (err) {
        const code = closeCodeOf(err);
        if (code === LIVE_CLOSE.internal) {
          // The database did not answer: keep the socket, try again at the next check.
          logger.warn({ err }, 'subscription token re-check failed');
          return true;
        }
        closeSocket(
          state,
          code,
          closeMessageOf(err),
          code === LIVE_CLOSE.unauthenticated ? 'unauthenticated' : 'forbidden',
        );
        return false;
      } finally {
        state.checking = undefined;
      }
    })();
    return state.checking;
  };

  const sweep = setInterval(
    () => {
      const due = Date.now() - limits.recheckMs;
      for (const state of open) if (!state.closed && state.lastCheck <= due) void recheck(state);
    },
    Math.max(50, Math.min(Math.floor(limits.recheckMs / 2), 5000)),
  );
  sweep.unref();

  const hooksFor = (state: SocketState): LiveSocketHooks => ({
    beforeDeliver: async () => {
      if (state.closed) return false;
      if (Date.now() - state.lastCheck < limits.recheckMs) return true;
      return recheck(state);
    },
    slowConsumer: () =>
      closeSocket(state, LIVE_CLOSE.slowConsumer, 'Too many pending events', 'slow_consumer'),
    delivered: (companyId) =>
      metrics.liveEventsDelivered.inc({
        company_id: metrics.liveEventCompanies.value(companyId),
      }),
    maxPendingEvents: limits.maxPendingEvents,
  });

  const disposable = useServer<Record<string, unknown>, { state?: SocketState }>(
    {
      schema,
      onConnect: async (ctx) => {
        const extra = ctx.extra as Extra;
        const params = (ctx.connectionParams ?? {}) as ConnectionParams;
        let auth: Authentication;
        try {
          auth = await authenticateRequest(deps, asRequest(params, extra.request));
        } catch (err) {
          const code = closeCodeOf(err);
          if (code === LIVE_CLOSE.internal) {
            logger.error({ err }, 'subscription authentication failed');
          }
          metrics.liveSocketsClosed.inc({
            reason: code === LIVE_CLOSE.unauthenticated ? 'unauthenticated' : 'forbidden',
          });
          extra.socket.close(code, closeMessageOf(err));
          return false;
        }
        if (auth.actor.kind === 'anonymous') {
          metrics.liveSocketsClosed.inc({ reason: 'unauthenticated' });
          extra.socket.close(
            LIVE_CLOSE.unauthenticated,
            'Sign in first: send { authorization: "Bearer <token>" } in connection_init',
          );
          return false;
        }
        const key = tokenKey(auth.actor);
        const companyId = auth.companyId;
        if (
          (perToken.get(key) ?? 0) >= limits.maxSocketsPerToken ||
          (companyId && (perCompany.get(companyId) ?? 0) >= limits.maxSocketsPerCompany)
        ) {
          metrics.liveSocketsClosed.inc({ reason: 'too_many' });
          extra.socket.close(LIVE_CLOSE.tooMany, 'Too many subscription sockets');
          return false;
        }
        const state: SocketState = {
          socket: extra.socket,
          params,
          request: extra.request,
          auth,
          key,
          companyId,
          lastCheck: Date.now(),
          closed: false,
        };
        states.set(ctx, state);
        open.add(state);
        bump(perToken, key, 1);
        if (companyId) bump(perCompany, companyId, 1);
        metrics.liveSockets.inc();
        extra.socket.once('close', () => {
          state.closed = true;
          open.delete(state);
          bump(perToken, key, -1);
          if (companyId) bump(perCompany, companyId, -1);
          metrics.liveSockets.dec();
        });
        return true;
      },
      onSubscribe: (ctx, _id, payload) => {
        const state = states.get(ctx);
        if (!state) return [new GraphQLError('Not connected')];
        if (payload.query.length > config.graphqlLimits.maxDocumentBytes) {
          return [
            new GraphQLError('The document is too large', {
              extensions: { code: 'BAD_USER_INPUT' },
            }),
          ];
        }
        let document: DocumentNode;
        try {
          document = parse(payload.query, { maxTokens: config.graphqlLimits.maxTokens });
        } catch (err) {
          return [
            err instanceof GraphQLError
              ? new GraphQLError(err.message, { extensions: { code: 'GRAPHQL_PARSE_FAILED' } })
              : new GraphQLError('Invalid document'),
          ];
        }
        const operations = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
        const operation = payload.operationName
          ? operations.find((o) => o.name?.value === payload.operationName)
          : operations.length === 1
            ? operations[0]
            : undefined;
        if (!operation || operation.operation !== OperationTypeNode.SUBSCRIPTION) {
          return [
            new GraphQLError(
              'Only subscriptions run over WebSocket: send queries and mutations over HTTP',
              { extensions: { code: 'BAD_USER_INPUT' } },
            ),
          ];
        }
        let errors: readonly GraphQLError[];
        try {
          errors = validate(schema, document, rules);
        } catch (err) {
          // The depth, alias and directive rules throw when a document exceeds them.
          if (!(err instanceof GraphQLError)) throw err;
          return [
            new GraphQLError(err.message.replace(/^Syntax Error: /, ''), {
              extensions: { code: 'QUERY_LIMIT_EXCEEDED' },
            }),
          ];
        }
        if (errors.length > 0) {
          return errors.map(
            (e) =>
              new GraphQLError(e.message, {
                nodes: e.nodes,
                extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
              }),
          );
        }
        // The selection resolves once per event: its cost is held to the per-operation limit.
        let cost: number;
        try {
          cost = operationCost(
            schema,
            document,
            payload.variables ?? undefined,
            payload.operationName ?? undefined,
          );
        } catch (err) {
          return [
            err instanceof AppError || err instanceof GraphQLError
              ? new GraphQLError(err.message, {
                  extensions: {
                    code: err instanceof AppError ? err.code : 'QUERY_LIMIT_EXCEEDED',
                    ...(err instanceof AppError && err.field ? { field: err.field } : {}),
                  },
                })
              : new GraphQLError('Invalid operation', { extensions: { code: 'BAD_USER_INPUT' } }),
          ];
        }
        if (cost > config.graphqlLimits.maxCost) {
          return [
            new GraphQLError(
              `The operation costs ${cost} points, more than the limit of ${config.graphqlLimits.maxCost} per operation`,
              { extensions: { code: 'QUERY_LIMIT_EXCEEDED' } },
            ),
          ];
        }
        const contextValue: LiveContext = {
          ctx: new RequestContext({
            deps,
            actor: state.auth.actor,
            companyId: state.auth.companyId,
            statementTimeoutMs: config.graphqlLimits.statementTimeoutMs,
          }),
          live: hooksFor(state),
        };
        const args: ExecutionArgs = {
          schema,
          document,
          operationName: payload.operationName,
          variableValues: payload.variables,
          contextValue,
        };
        return args;
      },
      onNext: (ctx, _id, _payload, _args, result) => {
        const state = states.get(ctx);
        if (state && state.socket.bufferedAmount > limits.maxBufferedBytes) {
          closeSocket(state, LIVE_CLOSE.slowConsumer, 'Too many pending events', 'slow_consumer');
        }
        if (!result.errors) return undefined;
        return {
          ...result,
          errors: result.errors.map((e) => formatError(e.toJSON(), e)),
        };
      },
      onError: (_ctx, _id, _payload, errors) => errors.map((e) => formatError(e.toJSON(), e)),
    },
    wss,
    limits.keepAliveMs,
  );

  return {
    close: async () => {
      clearInterval(sweep);
      await disposable.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
