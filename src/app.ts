import http from 'node:http';
import type { GraphQLSchema } from 'graphql';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { Config } from './config';
import type { AppDeps } from './context/deps';
import { checkSessionRoles, openDatabase, migrationsCurrent } from './db/database';
import { createLogger } from './observability/logger';
import { createMetrics } from './observability/metrics';
import { mountMetrics, observeHttp } from './observability/http';
import { requestIdMiddleware, requestIdOf } from './http/request-id';
import { createGraphQL } from './graphql/server';
import { createGraphqlMetricsPlugin } from './observability/graphql';
import { createWebhookModule } from './webhooks';
import { createVoiceRouter } from './voice';
import { authenticateRequest } from './auth/authenticate';
import { setTenantFilterEnabled } from './tenancy/switches';
import { seedDemoData } from './seed/demo';
import { RetentionJob } from './privacy/retention-job';
import { closeLimitersOf } from './security/limits';
import type { BackgroundService } from './runtime/background-service';
import { attachLiveServer, createLiveBus } from './live/server';

export interface AppServer {
  deps: AppDeps;
  app: Express;
  server: http.Server;
  /** The base URL once listening, e.g. http://127.0.0.1:4000 */
  url: string;
  close(): Promise<void>;
}

export async function createDeps(config: Config): Promise<AppDeps> {
  // Only the benchmark switches the application filter off, to measure it; row level security still
  // holds, and loadConfig refuses the switch in production.
  setTenantFilterEnabled(!config.benchDisableTenantFilter);
  const logger = createLogger(
    config.logLevel,
    config.env === 'development' && process.stdout.isTTY,
  );
  const db = await openDatabase({
    url: config.databaseUrl,
    runtimeUrl: config.databaseRuntimeUrl,
    platformUrl: config.databasePlatformUrl,
    replicaUrl: config.replica?.url,
    pgliteDataDir: config.pgliteDataDir,
    poolMax: config.dbPoolMax,
  });
  return { config, db, logger, metrics: createMetrics() };
}

/**
 * Builds the Express app: health, GraphQL, the webhook shims and metrics, in one process.
 * `listen` starts the HTTP server and the background services; `close` stops both gracefully.
 */
export async function createApp(deps: AppDeps): Promise<{
  app: Express;
  services: BackgroundService[];
  onClose: Array<() => Promise<void>>;
  /** The executable schema, for GraphQL subscriptions over WebSocket. */
  schema: GraphQLSchema;
}> {
  const { config } = deps;
  const app = express();
  app.disable('x-powered-by');
  // No ETags: answers are per caller (bearer tokens) and never revalidated, and a weak ETag hashes
  // every response body (a page of appointments is tens of kilobytes).
  app.set('etag', false);
  app.set('trust proxy', config.trustProxy);
  app.use(requestIdMiddleware);
  app.use(observeHttp(deps));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    try {
      await deps.db.knex.raw('select 1');
      const current = await migrationsCurrent(deps.db.knex);
      if (!current) {
        res.status(503).json({ status: 'unavailable', reason: 'migrations pending' });
        return;
      }
      res.json({ status: 'ready' });
    } catch (err) {
      deps.logger.warn({ err }, 'readiness check failed');
      res.status(503).json({ status: 'unavailable', reason: 'database unreachable' });
    }
  });

  const services: BackgroundService[] = [];
  const onClose: Array<() => Promise<void>> = [];

  // Routes from the other parts of the server are mounted here.
  const webhooks = createWebhookModule(deps, {
    authenticate: (req) => authenticateRequest(deps, req),
  });
  app.use(webhooks.router);
  // WEBHOOK_WORKER_CONCURRENCY=0: this process only stores events; worker processes apply them.
  if (config.webhookWorkerConcurrency > 0) services.push(webhooks.worker);
  if (config.retentionIntervalMs > 0) {
    services.push(new RetentionJob(deps, { intervalMs: config.retentionIntervalMs }));
  }
  const voice = createVoiceRouter(deps, { authenticate: (req) => authenticateRequest(deps, req) });
  app.use(voice);
  onClose.push(() => voice.close());
  mountMetrics(app, deps, services);
  const graphql = await createGraphQL(deps, [createGraphqlMetricsPlugin(deps)]);
  app.use(graphql.router);
  onClose.push(() => graphql.stop());

  // Last: the limiters' Redis connection outlives everything that counts with it.
  onClose.push(() => closeLimitersOf(deps));

  app.use((_req, res) => {
    res.status(404).json({ error: { code: 'NOT_FOUND', message: 'No such route' } });
  });
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const status = (err as { status?: number; statusCode?: number }).status ?? 500;
    if (status >= 500) deps.logger.error({ err, requestId: requestIdOf(req) }, 'request failed');
    const code = status === 413 ? 'PAYLOAD_TOO_LARGE' : status >= 500 ? 'INTERNAL' : 'BAD_REQUEST';
    const message = status >= 500 ? 'Internal error' : 'Bad request';
    res
      .status(status >= 400 && status < 600 ? status : 500)
      .json({ error: { code, message, requestId: requestIdOf(req) } });
  });
  return { app, services, onClose, schema: graphql.schema };
}

/** Opens the database, migrates, builds the app and listens. */
export async function startServer(deps: AppDeps): Promise<AppServer> {
  await deps.db.migrate();
  await checkSessionRoles(deps.db);
  if (deps.config.seedDemoData) await seedDemoData(deps.db, deps.logger);
  // Committed changes travel to the subscribers of every process (src/live/bus.ts).
  deps.live ??= await createLiveBus(deps);
  const { app, services, onClose, schema } = await createApp(deps);
  const server = http.createServer(app);
  const live = attachLiveServer(deps, server, schema);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(deps.config.port, deps.config.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : deps.config.port;
  for (const service of services) service.start();
  const sockets = new Set<import('node:net').Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      // Stop taking new connections, close the subscription sockets, let in-flight requests
      // finish, then stop the workers and close the database.
      await live.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => {
        for (const s of sockets) s.destroy();
      }, 10_000);
      await closed;
      clearTimeout(timer);
      for (const service of services) await service.stop();
      for (const fn of onClose) await fn();
      await deps.live?.close();
      await deps.db.close();
    })();
    return closing;
  };
  return { deps, app, server, url: `http://${deps.config.host}:${port}`, close };
}
