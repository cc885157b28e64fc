import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Express, NextFunction, Request, RequestHandler, Response } from 'express';
import type { BackgroundService } from '../runtime/background-service';
import type { AppDeps } from '../context/deps';
import {
  attachObservation,
  formatTraceparent,
  requestStorage,
  traceContextFrom,
  type RequestObservation,
} from './context';
import { observeDatabase, type DatabaseObservabilityOptions } from './db';
import { BoundedLabel, methodLabel, statusClass, templateOfPath } from './labels';
import { countTenantServerError } from './metrics';

export {
  annotateCurrentRequest,
  annotateRequestLog,
  formatTraceparent,
  setRouteTemplate,
  traceContextOf,
  type RequestAnnotations,
} from './context';

export interface HttpObservabilityOptions extends DatabaseObservabilityOptions {
  /** Distinct route templates kept as label values; later ones fold into "other". */
  maxRoutes?: number;
}

/** Routes polled by machines; their request lines are logged at debug level only. */
const PROBE_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

/** nginx's status for a request whose client went away before the answer. */
const CLIENT_CLOSED_REQUEST = 499;

/**
 * Observes every HTTP request: the W3C trace context (the caller's `traceparent` when valid,
 * else a new trace; the response names this server's span), an async context that lets the SQL
 * instrumentation and the logger find the request, the request duration histogram by route
 * template, statements per request, and one JSON log line per request. Mount it right after the
 * request-id middleware.
 */
export function observeHttp(deps: AppDeps, options: HttpObservabilityOptions = {}): RequestHandler {
  const { metrics, logger } = deps;
  observeDatabase(deps, options);
  const routes = new BoundedLabel(options.maxRoutes ?? 100, 'other');

  return (req: Request, res: Response, next: NextFunction) => {
    const started = process.hrtime.bigint();
    const trace = traceContextFrom(req.headers.traceparent);
    const observation: RequestObservation = {
      requestId: (req as Request & { id?: string }).id ?? 'unknown',
      trace,
      statements: 0,
      dbSeconds: 0,
      annotations: {},
    };
    attachObservation(req, observation);
    res.setHeader('traceparent', formatTraceparent(trace));
    metrics.httpRequestsInFlight.inc();

    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      metrics.httpRequestsInFlight.dec();
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const status = res.writableFinished ? res.statusCode : CLIENT_CLOSED_REQUEST;
      const route = routes.value(routeOf(req, observation));
      metrics.httpRequestDuration.observe(
        { method: methodLabel(req.method), route, status_class: statusClass(status) },
        seconds,
      );
      metrics.dbStatementsPerRequest.observe({ route }, observation.statements);
      const companyId = observation.annotations.companyId;
      if (status >= 500 && typeof companyId === 'string' && !observation.serverErrorCounted) {
        countTenantServerError(metrics, companyId);
      }
      const line = {
        ...observation.annotations,
        requestId: observation.requestId,
        traceId: trace.traceId,
        spanId: trace.spanId,
        parentSpanId: trace.parentSpanId,
        method: req.method,
        route,
        // The query string is left out: it is where tokens end up when a client gets it wrong.
        path: (req.originalUrl ?? req.url ?? '').split('?')[0],
        status,
        durationMs: Math.round(seconds * 1e6) / 1e3,
        dbStatements: observation.statements,
        dbMs: Math.round(observation.dbSeconds * 1e6) / 1e3,
        ...(res.writableFinished ? {} : { aborted: true }),
      };
      if (status >= 500) logger.error(line, 'request completed');
      else if (PROBE_ROUTES.has(route)) logger.debug(line, 'request completed');
      else logger.info(line, 'request completed');
    };
    res.once('finish', finish);
    res.once('close', finish);
    requestStorage.run(observation, next);
  };
}

/**
 * The route template of a request, never its raw URL: the template set by the handler, else the
 * matched Express route under its mount path, else the mount path of the middleware that answered
 * (GraphQL), else "unmatched".
 */
function routeOf(req: Request, observation: RequestObservation): string {
  if (observation.route) return observation.route;
  const base = req.baseUrl ? templateOfPath(req.baseUrl) : '';
  const routePath: unknown = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof routePath === 'string') {
    const full = `${base}${routePath}`;
    return full.length > 1 && full.endsWith('/') ? full.slice(0, -1) : full || '/';
  }
  return base || 'unmatched';
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** True when the request carries `Authorization: Bearer <token>`; compared in constant time. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match ? timingSafeEqual(digest(match[1]), digest(token)) : false;
}

/** Answers a scrape: the registry in Prometheus text format, behind the bearer token when set. */
export async function serveMetrics(
  deps: AppDeps,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const token = deps.config.metricsToken;
  if (token !== undefined && !bearerMatches(req.headers.authorization, token)) {
    deps.logger.warn({ path: '/metrics' }, 'metrics scrape refused: missing or wrong token');
    res.statusCode = 401;
    res.setHeader('www-authenticate', 'Bearer realm="metrics"');
    res.setHeader('content-type', 'application/json');
    res.end(
      JSON.stringify({ error: { code: 'UNAUTHENTICATED', message: 'Metrics need a token' } }),
    );
    return;
  }
  const body = await deps.metrics.registry.metrics();
  res.statusCode = 200;
  res.setHeader('content-type', deps.metrics.registry.contentType);
  res.setHeader('cache-control', 'no-store');
  res.end(body);
}

/**
 * Serves /metrics: on the main port (behind METRICS_TOKEN when set; open in development and test
 * when neither is set, which production refuses at start), or, with METRICS_PORT, only on that
 * internal port as a background service.
 */
export function mountMetrics(app: Express, deps: AppDeps, services: BackgroundService[]): void {
  observeDatabase(deps);
  if (deps.config.metricsPort !== undefined) {
    services.push(metricsServer(deps, deps.config.metricsPort));
    return;
  }
  app.get('/metrics', async (req, res) => {
    await serveMetrics(deps, req, res);
  });
}

/** An HTTP server of its own that answers only GET /metrics, for a port kept off the internet. */
export function metricsServer(deps: AppDeps, port: number): BackgroundService {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.statusCode = 404;
      res.end();
      return;
    }
    serveMetrics(deps, req, res).catch((err: unknown) => {
      deps.logger.error({ err }, 'metrics scrape failed');
      if (!res.headersSent) res.statusCode = 500;
      res.end();
    });
  });
  server.on('error', (err) => deps.logger.error({ err, port }, 'metrics server failed'));
  return {
    name: 'metrics',
    start() {
      server.listen(port, deps.config.host, () =>
        deps.logger.info({ port, host: deps.config.host }, 'metrics listening'),
      );
    },
    async stop() {
      if (!server.listening) return;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
