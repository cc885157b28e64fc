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
import { readDelivery, rejectionOf, type Rejection } from './body';
import { lookupEndpointCredential, markCredentialUsed } from './credentials';
import {
  storeRejectedWebhookEvent,
  storeWebhookEvent,
  type CredentialBinding,
  type IngestMeta,
} from './inbox';
import { isValueRefused, sqlStateOf } from '../db/errors';
import { limitersOf } from '../security/limits';
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

type Verified = { verdict: SignatureVerdict; binding?: CredentialBinding };

interface ProviderSpec {
  provider: WebhookProvider;
  verify(req: Request, body: Buffer, now: number): Promise<Verified>;
  envelope(body: Buffer): EnvelopeResult;
  /** WEBHOOKS_ALLOW_UNSIGNED (development) may let an unsigned delivery through this route. */
  allowUnsigned: boolean;
}

/**
 * The inbound webhook routes:
 * - POST /api/webhooks/calcom/:endpointId and /api/webhooks/retell/:endpointId: a company's own
 *   endpoint, verified with that company's credential only; the stored event is bound to the
 *   credential's company and can touch no other.
 * - POST /api/webhooks/retell (and the legacy /api/webhook): the platform's own Retell account,
 *   verified with RETELL_API_KEYS, routed by agent or number.
 * - POST /api/webhooks/calcom without an endpoint id: refused (401); there is no shared Cal.com
 *   secret, since it could not tell which company a delivery may touch.
 * Each: raw body (size-limited) -> per-address throttle -> signature -> durable insert into the
 * inbox -> 202, or 200 `{"status":"duplicate"}` for an event already stored. 401 for a bad
 * signature (nothing stored), 503 when the database cannot take the event, so the provider retries.
 * - GET /api/webhooks/monitor: counts and recent failures for admins.
 */
export function createWebhookRouter(deps: AppDeps, options: WebhookRouterOptions): Router {
  const { config, logger, metrics, db } = deps;
  const log = logger.child({ component: 'webhooks' });
  const now = options.now ?? Date.now;
  const storeTimeoutMs = options.storeTimeoutMs ?? 8000;
  // Per client address, shared by every process through the limiter store; fails open when
  // Redis is unreachable (deliveries are signed, deduplicated and queued, and the providers retry).
  const limiter = limitersOf(deps).limiter('webhook', {
    points: config.webhookRateLimitPerMinute,
    durationSeconds: 60,
    onStoreFailure: 'fail_open',
  });
  const router = Router();

  const retell: ProviderSpec = {
    provider: 'retell',
    verify: async (req, body, at) => ({
      verdict: verifyRetellSignature(
        body,
        req.header('x-retell-signature'),
        config.retellApiKeys,
        at,
      ),
    }),
    envelope: retellEnvelope,
    allowUnsigned: true,
  };
  const calcomShared: ProviderSpec = {
    provider: 'calcom',
    verify: async () => ({ verdict: { ok: false, reason: 'no_endpoint' } }),
    envelope: calcomEnvelope,
    allowUnsigned: false,
  };

  /**
   * A company's own endpoint: the credential is looked up by the endpoint id and the signature is
   * checked against its secrets only (constant-time compare). Nothing else verifies here, and the
   * unsigned-development switch does not apply: an endpoint always has its secret.
   */
  const ownEndpoint = (provider: WebhookProvider): ProviderSpec => ({
    provider,
    verify: async (req, body, at) => {
      const endpointId = String(req.params.endpointId ?? '');
      const found = await lookupEndpointCredential(
        db.platform,
        config.credentialKeys,
        log,
        provider,
        endpointId,
        at,
      );
      if (!found.ok) return { verdict: { ok: false, reason: found.reason } };
      const verdict =
        provider === 'calcom'
          ? verifyCalcomSignature(body, req.header('x-cal-signature-256'), found.secrets)
          : verifyRetellSignature(body, req.header('x-retell-signature'), found.secrets, at);
      if (!verdict.ok) return { verdict };
      return {
        verdict,
        binding: { credentialId: found.credentialId, companyId: found.companyId },
      };
    },
    envelope: provider === 'calcom' ? calcomEnvelope : retellEnvelope,
    allowUnsigned: false,
  });
  if (config.retellApiKeys.length === 0 && !config.allowUnsignedWebhooks) {
    log.warn(
      'RETELL_API_KEYS is empty: the platform Retell endpoint refuses everything (company endpoints still work)',
    );
  }

  const throttle = async (req: Request, res: Response, next: NextFunction) => {
    const verdict = await limiter.consume(req.ip ?? req.socket.remoteAddress ?? 'unknown');
    if (verdict.allowed) {
      next();
      return;
    }
    metrics.rateLimitRejections.inc({ limiter: 'webhook' });
    res.setHeader('Retry-After', String(Math.max(1, Math.ceil(verdict.msBeforeNext / 1000))));
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

  const unavailable = (
    req: Request,
    res: Response,
    err: unknown,
    provider: WebhookProvider,
    eventType: string,
  ) => {
    log.error(
      { err, provider, eventType, requestId: requestIdOf(req) },
      'webhook could not be stored; provider asked to retry',
    );
    res.setHeader('Retry-After', String(unavailableRetryAfterSeconds()));
    sendError(res, 503, 'UNAVAILABLE', 'Temporarily unavailable, retry later', req);
  };

  /**
   * A verified delivery that cannot be stored as JSON: kept as raw text, marked `rejected` with
   * the reason, and answered 400 (a retry of the same bytes finds the same row). 503 only when
   * the database cannot take even that.
   */
  const reject = async (
    req: Request,
    res: Response,
    rejection: Rejection,
    meta: Omit<IngestMeta, 'raw'>,
  ) => {
    let stored: { id: string; inserted: boolean };
    try {
      stored = await withTimeout(
        storeRejectedWebhookEvent(db.platform, rejection, meta),
        storeTimeoutMs,
      );
    } catch (err) {
      unavailable(req, res, err, rejection.provider, rejection.eventType);
      return;
    }
    if (stored.inserted) {
      metrics.webhookProcessed.inc({ provider: rejection.provider, outcome: 'rejected' });
    }
    log.warn(
      {
        provider: rejection.provider,
        eventId: stored.id,
        requestId: requestIdOf(req),
        reason: rejection.reason,
      },
      'webhook rejected and kept as raw text',
    );
    res.status(400).json({
      status: 'rejected',
      id: stored.id,
      error: { code: 'BAD_REQUEST', message: rejection.reason, requestId: requestIdOf(req) },
    });
  };

  const receive = (spec: ProviderSpec) => async (req: Request, res: Response) => {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    let verified: Verified;
    try {
      verified = await spec.verify(req, body, now());
    } catch (err) {
      log.error(
        { err, provider: spec.provider, requestId: requestIdOf(req) },
        'webhook credential lookup failed; provider asked to retry',
      );
      res.setHeader('Retry-After', String(unavailableRetryAfterSeconds()));
      sendError(res, 503, 'UNAVAILABLE', 'Temporarily unavailable, retry later', req);
      return;
    }
    const { verdict, binding } = verified;
    if (!verdict.ok) {
      const unsigned = verdict.reason === 'missing' || verdict.reason === 'unconfigured';
      if (!(unsigned && spec.allowUnsigned && config.allowUnsignedWebhooks)) {
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
    const headers: Record<string, string> = {};
    for (const name of KEPT_HEADERS) {
      const value = req.header(name);
      if (value) headers[name] = value.slice(0, 500);
    }
    const meta = { headers, sourceIp: req.ip ?? null, requestId: requestIdOf(req) };
    const delivery = readDelivery(spec.provider, body, (raw) => spec.envelope(raw));
    if (!delivery.ok) {
      await reject(req, res, delivery.rejection, meta);
      return;
    }
    const parsed = delivery;
    let stored: { id: string; inserted: boolean };
    try {
      stored = await withTimeout(
        storeWebhookEvent(db.platform, parsed.envelope, { raw: parsed.raw, ...meta }, binding),
        storeTimeoutMs,
      );
    } catch (err) {
      // A value Postgres refuses would be refused on every retry: keep the delivery as rejected.
      if (isValueRefused(err)) {
        await reject(
          req,
          res,
          rejectionOf(
            spec.provider,
            body,
            `Body refused by the database (SQLSTATE ${sqlStateOf(err)})`,
            parsed.envelope.eventType,
          ),
          meta,
        );
        return;
      }
      unavailable(req, res, err, spec.provider, parsed.envelope.eventType);
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
    if (binding) {
      // Best effort: the event is stored; a failed bookkeeping write must not fail the delivery.
      markCredentialUsed(db.platform, binding.credentialId, binding.companyId).catch(
        (err: unknown) =>
          log.warn({ err, credentialId: binding.credentialId }, 'credential last use not recorded'),
      );
    }
    options.onStored?.();
    res.status(202).json({ status: 'accepted', id: stored.id });
  };

  router.post('/api/webhooks/retell', throttle, rawBody, receive(retell));
  router.post('/api/webhook', throttle, rawBody, receive(retell));
  router.post('/api/webhooks/calcom', throttle, rawBody, receive(calcomShared));
  router.post(
    '/api/webhooks/calcom/:endpointId',
    throttle,
    rawBody,
    receive(ownEndpoint('calcom')),
  );
  router.post(
    '/api/webhooks/retell/:endpointId',
    throttle,
    rawBody,
    receive(ownEndpoint('retell')),
  );

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

/** The base of Retry-After on a 503, in seconds. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 30;

/**
 * Retry-After for a 503: the base +/- 50 %, drawn per answer (15 to 45 s), so the deliveries
 * refused during an outage do not all come back in the same second when it ends.
 */
export function unavailableRetryAfterSeconds(random: () => number = Math.random): number {
  const base = UNAVAILABLE_RETRY_AFTER_SECONDS;
  return Math.max(1, Math.round(base * (0.5 + random())));
}
