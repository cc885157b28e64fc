import express, { Router, type NextFunction, type Request, type Response } from 'express';
import { ANONYMOUS, type Actor } from '../context/actor';
import type { AppDeps } from '../context/deps';
import { runInContext } from '../context/request-context';
import { AppError } from '../errors/app-error';
import {
  calcomEnvelope,
  retellEnvelope,
  type EnvelopeResult,
  type WebhookProvider,
} from './envelope';
import { storeWebhookEvent } from './inbox';
import { RateLimiter } from '../security/rate-limiter';
import { scopeFor, webhookStats } from './service';
import { verifyCalcomSignature, verifyRetellSignature, type SignatureVerdict } from './signatures';

export interface WebhookRouterOptions {
  /** Who is calling the monitor; provided by the auth module. Anything but an admin is refused. */
  /**
   * Who is asking for the monitor: an actor, or an actor with the company the request acts in
   * (a super admin who named one with X-Company-Id sees that company only).
   */
  authenticate: (req: Request) => Promise<Actor | { actor: Actor; companyId: string | null }>;
  /** Called after an event was stored (not for duplicates); wakes the in-process worker. */
  onStored?: () => void;
  /** How long the inbox insert may take before the provider is told to retry (503). */
  storeTimeoutMs?: number;
  now?: () => number;
}

/** Request headers kept with the event. The signature itself is never stored or logged. */
const KEPT_HEADERS = ['content-type', 'user-agent', 'x-cal-webhook-version', 'x-request-id'];

function requestIdOf(req: Request): string | null {
  return (req as Request & { id?: string }).id ?? null;
}

function sendError(
  res: Response,
  status: number,
  code: string,
  message: string,
  req: Request,
): void {
  res.status(status).json({ error: { code, message, requestId: requestIdOf(req) } });
}

class Timeout extends Error {}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Timeout(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

interface ProviderSpec {
  provider: WebhookProvider;
  verify(req: Request, body: Buffer, now: number): SignatureVerdict;
  envelope(body: Buffer): EnvelopeResult;
}

/**
 * The inbound webhook routes:
 * - POST /api/webhooks/retell (and the legacy /api/webhook), POST /api/webhooks/calcom: raw body
 *   (size-limited) -> per-address throttle -> signature -> durable insert into the inbox -> 202,
 *   or 200 `{"status":"duplicate"}` for an event already stored. 401 for a bad signature (nothing
 *   stored), 503 when the database cannot take the event, so the provider retries.
 * - GET /api/webhooks/monitor: counts and recent failures for admins.
 */
export function createWebhookRouter(deps: AppDeps, options: WebhookRouterOptions): Router {
  const { config, logger, metrics, db } = deps;
  const log = logger.child({ component: 'webhooks' });
  const now = options.now ?? Date.now;
  const storeTimeoutMs = options.storeTimeoutMs ?? 8000;
  const limiter = new RateLimiter(config.webhookRateLimitPerMinute, 60_000, now);
  const router = Router();

  const retell: ProviderSpec = {
    provider: 'retell',
    verify: (req, body, at) =>
      verifyRetellSignature(body, req.header('x-retell-signature'), config.retellApiKeys, at),
    envelope: retellEnvelope,
  };
  const calcom: ProviderSpec = {
    provider: 'calcom',
    verify: (req, body) =>
      verifyCalcomSignature(body, req.header('x-cal-signature-256'), config.calcomSecrets),
    envelope: calcomEnvelope,
  };
  if (config.retellApiKeys.length === 0 && !config.allowUnsignedWebhooks) {
    log.warn('RETELL_API_KEYS is empty: every Retell webhook will be refused');
  }
  if (config.calcomSecrets.length === 0 && !config.allowUnsignedWebhooks) {
    log.warn('CALCOM_WEBHOOK_SECRETS is empty: every Cal.com webhook will be refused');
  }

  const throttle = (req: Request, res: Response, next: NextFunction) => {
    const verdict = limiter.take(req.ip ?? req.socket.remoteAddress ?? 'unknown');
    if (verdict.allowed) {
      next();
      return;
    }
    metrics.rateLimitRejections.inc({ limiter: 'webhook' });
    res.setHeader('Retry-After', String(verdict.retryAfterSeconds));
    sendError(res, 429, 'RATE_LIMITED', 'Too many requests', req);
  };

  // Only these routes read a body, and only as raw bytes: the signature covers the exact bytes.
  const parseRaw = express.raw({ type: () => true, limit: config.webhookBodyLimitBytes });
  const rawBody = (req: Request, res: Response, next: NextFunction) => {
    parseRaw(req, res, (err?: unknown) => {
      if (!err) {
        next();
        return;
      }
      const e = err as { status?: number; type?: string };
      if (e.status === 413) {
        sendError(
          res,
          413,
          'PAYLOAD_TOO_LARGE',
          `Body larger than ${config.webhookBodyLimitBytes} bytes`,
          req,
        );
      } else if (e.status === 415) {
        sendError(res, 415, 'UNSUPPORTED_MEDIA_TYPE', 'Unsupported content encoding', req);
      } else {
        sendError(res, 400, 'BAD_REQUEST', 'Could not read the request body', req);
      }
    });
  };

  const receive = (spec: ProviderSpec) => async (req: Request, res: Response) => {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const verdict = spec.verify(req, body, now());
    if (!verdict.ok) {
      const unsigned = verdict.reason === 'missing' || verdict.reason === 'unconfigured';
      if (!(unsigned && config.allowUnsignedWebhooks)) {
        metrics.webhookSignatureRejections.inc({ provider: spec.provider, reason: verdict.reason });
        log.warn(
          {
            provider: spec.provider,
            reason: verdict.reason,
            ip: req.ip,
            requestId: requestIdOf(req),
            path: req.path,
          },
          'webhook signature rejected',
        );
        sendError(res, 401, 'UNAUTHENTICATED', 'Unauthorized', req);
        return;
      }
      log.warn(
        { provider: spec.provider, reason: verdict.reason },
        'unsigned webhook accepted (WEBHOOKS_ALLOW_UNSIGNED)',
      );
    }
    const text = body.toString('utf8');
    // The inbox keeps the exact bytes as text, so only valid UTF-8 can be kept exactly.
    if (!Buffer.from(text, 'utf8').equals(body)) {
      sendError(res, 400, 'BAD_REQUEST', 'Body must be UTF-8 JSON', req);
      return;
    }
    const parsed = spec.envelope(body);
    if (!parsed.ok) {
      log.warn(
        { provider: spec.provider, requestId: requestIdOf(req) },
        `webhook refused: ${parsed.message}`,
      );
      sendError(res, 400, 'BAD_REQUEST', parsed.message, req);
      return;
    }
    const headers: Record<string, string> = {};
    for (const name of KEPT_HEADERS) {
      const value = req.header(name);
      if (value) headers[name] = value.slice(0, 500);
    }
    let stored: { id: string; inserted: boolean };
    try {
      stored = await withTimeout(
        storeWebhookEvent(db.platform, parsed.envelope, {
          raw: text,
          headers,
          sourceIp: req.ip ?? null,
          requestId: requestIdOf(req),
        }),
        storeTimeoutMs,
      );
    } catch (err) {
      log.error(
        {
          err,
          provider: spec.provider,
          eventType: parsed.envelope.eventType,
          requestId: requestIdOf(req),
        },
        'webhook could not be stored; provider asked to retry',
      );
      res.setHeader('Retry-After', '30');
      sendError(res, 503, 'UNAVAILABLE', 'Temporarily unavailable, retry later', req);
      return;
    }
    metrics.webhookEventsReceived.inc({
      provider: spec.provider,
      duplicate: String(!stored.inserted),
    });
    if (!stored.inserted) {
      res.status(200).json({ status: 'duplicate', id: stored.id });
      return;
    }
    options.onStored?.();
    res.status(202).json({ status: 'accepted', id: stored.id });
  };

  router.post('/api/webhooks/retell', throttle, rawBody, receive(retell));
  router.post('/api/webhook', throttle, rawBody, receive(retell));
  router.post('/api/webhooks/calcom', throttle, rawBody, receive(calcom));

  router.get('/api/webhooks/monitor', async (req: Request, res: Response) => {
    res.setHeader('Cache-Control', 'no-store');
    let actor: Actor = ANONYMOUS;
    let companyId: string | null = null;
    try {
      const auth = await options.authenticate(req);
      if ('actor' in auth) {
        actor = auth.actor;
        companyId = auth.companyId;
      } else {
        actor = auth;
        companyId = actor.kind === 'user' ? actor.companyId : null;
      }
    } catch (err) {
      // A bad token is 401; naming another company is 403, as on GraphQL.
      if (err instanceof AppError && err.httpStatus < 500) {
        sendError(res, err.httpStatus, err.code, err.message, req);
        return;
      }
      actor = ANONYMOUS;
    }
    try {
      scopeFor(actor, companyId);
      const hours = Number(req.query.hours ?? 24);
      if (!Number.isFinite(hours) || hours <= 0 || hours > 24 * 90) {
        sendError(res, 400, 'BAD_REQUEST', 'hours must be between 0 and 2160', req);
        return;
      }
      const stats = await runInContext(
        { deps, actor, companyId, requestId: requestIdOf(req) ?? undefined, ip: req.ip },
        (ctx) => webhookStats(ctx, { since: new Date(now() - hours * 3600_000) }),
      );
      res.json(stats);
    } catch (err) {
      if (err instanceof AppError && err.httpStatus < 500) {
        sendError(res, err.httpStatus, err.code, err.message, req);
        return;
      }
      log.error({ err, requestId: requestIdOf(req) }, 'webhook monitor failed');
      sendError(res, 500, 'INTERNAL', 'Internal error', req);
    }
  });

  return router;
}
