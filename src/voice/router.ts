import { createHash } from 'node:crypto';
import express, { Router, type NextFunction, type Request, type Response } from 'express';
import type { Knex } from 'knex';
import { DateTime } from 'luxon';
import type { Actor } from '../context/actor';
import type { AppDeps } from '../context/deps';
import { runInContext, type RequestContext } from '../context/request-context';
import { AppError } from '../errors/app-error';
import { isRecord } from '../webhooks/envelope';
import { routeRetellCall } from '../webhooks/routing';
import { e164OrNull } from '../domain/phone';
import { addressAllowed, allowList, checkSignature } from './auth';
import {
  FUNCTION_BY_NAME,
  type VoiceAnswer,
  type VoiceCompany,
  type VoiceFunction,
} from './functions';
import { inboundAnswer } from './inbound';
import { limitersOf } from '../security/limits';
import { createCallLimiter, type CallLimiter } from './limits';
import { functionDefinitions, inboundWebhookUrl } from './definitions';
import { secretAccepted, SECRET_HEADER, type VoiceSettingsRow } from './secret';
import { languageOf } from './speech';

type CompanyRoute = {
  kind: 'company';
  companyId: string;
  data: { retellAgentId: string | null; phoneNumberId: string | null };
};

export const VOICE_ACTOR: Actor = { kind: 'system', name: 'voice_agent' };

export interface VoiceRouterOptions {
  /** Who asks for the function definitions; only admins get them. */
  authenticate: (req: Request) => Promise<{ actor: Actor; companyId: string | null }>;
  limiter?: CallLimiter;
  now?: () => number;
}

function requestIdOf(req: Request): string | null {
  return (req as Request & { id?: string }).id ?? null;
}

function sendError(res: Response, status: number, code: string, message: string, req: Request) {
  res.status(status).json({ error: { code, message, requestId: requestIdOf(req) } });
}

/** Canonical JSON (sorted keys), so the same arguments hash the same in any order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (isRecord(value)) {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

export function argsHash(args: Record<string, unknown>): string {
  return createHash('sha256').update(canonical(args)).digest('hex');
}

interface CompanyRow {
  id: string;
  name: string;
  timezone: string;
  default_region: string;
  currency: string;
  archived_at: Date | null;
  suspended_at: Date | null;
}

/**
 * The tenant's company and voice settings, or null when it is archived or suspended (not served:
 * the agent is answered that the service is unavailable and nothing is done).
 */
export async function loadVoiceCompany(trx: Knex.Transaction): Promise<{
  company: VoiceCompany;
  settings: VoiceSettingsRow;
} | null> {
  // One statement for both; row level security limits each table to the tenant.
  const row = await trx('companies as c')
    .leftJoin('voice_agent_settings as v', 'v.company_id', 'c.id')
    .first<(CompanyRow & VoiceSettingsRow) | undefined>(
      'c.id',
      'c.name',
      'c.timezone',
      'c.default_region',
      'c.currency',
      'c.archived_at',
      'c.suspended_at',
      'v.language',
      'v.secret_hash',
      'v.previous_secret_hash',
      'v.previous_valid_until',
    );
  if (!row || row.archived_at || row.suspended_at) return null;
  const settings: VoiceSettingsRow = {
    language: row.language,
    secret_hash: row.secret_hash,
    previous_secret_hash: row.previous_secret_hash,
    previous_valid_until: row.previous_valid_until,
  };
  const timezone = DateTime.local().setZone(row.timezone).isValid ? row.timezone : 'UTC';
  return {
    company: {
      id: row.id,
      name: row.name,
      timezone,
      region: row.default_region,
      currency: row.currency,
      language: languageOf(settings?.language, row.default_region),
    },
    settings,
  };
}

const LIMIT_MESSAGES = {
  de: 'Das kann ich in diesem Gespräch leider nicht mehr abfragen. Ich notiere gern einen Rückruf durch das Team.',
  en: "I can't look that up again on this call. The team can call you back instead.",
};

const INTERNAL_MESSAGES = {
  de: 'Da ist gerade ein technisches Problem. Bitte versuchen Sie es gleich noch einmal, oder ich notiere einen Rückruf.',
  en: 'Something went wrong on our side. Please try again in a moment, or I can note a callback request.',
};

type Outcome = 'ok' | 'refused' | 'invalid' | 'limited' | 'error';

/**
 * The voice agent's endpoints:
 * - POST /api/retell/inbound and /api/retell/:endpointId/inbound: the inbound-call webhook.
 * - POST /api/retell/functions/:name and /api/retell/:endpointId/functions/:name: the functions
 *   the agent calls during a call (/api/retell/collect-appointment: book_appointment).
 * - GET /api/retell/functions: the custom-function definitions to paste into Retell (admins).
 * Without an endpoint id the platform's Retell keys verify the signature; with one, only that
 * company's Retell credential does.
 */
export function createVoiceRouter(
  deps: AppDeps,
  options: VoiceRouterOptions,
): Router & { close(): Promise<void> } {
  const { config, db, metrics } = deps;
  const log = deps.logger.child({ component: 'voice' });
  const now = options.now ?? Date.now;
  const allowed = allowList(config.voiceAllowedCidrs);
  const limiter =
    options.limiter ?? createCallLimiter(config.voiceLimits, { limiters: limitersOf(deps) });
  const router = Router();

  const sourceCheck = (req: Request, res: Response, next: NextFunction) => {
    if (addressAllowed(allowed, req.ip)) {
      next();
      return;
    }
    metrics.authorizationDenials.inc({ rule: 'voice:source_address' });
    log.warn(
      { ip: req.ip, path: req.path, requestId: requestIdOf(req) },
      'voice request from an address not allowed',
    );
    sendError(res, 403, 'FORBIDDEN', 'Forbidden', req);
  };

  const parseRaw = express.raw({ type: () => true, limit: 256 * 1024 });
  const rawBody = (req: Request, res: Response, next: NextFunction) => {
    parseRaw(req, res, (err?: unknown) => {
      if (!err) {
        next();
        return;
      }
      const status = (err as { status?: number }).status === 413 ? 413 : 400;
      sendError(
        res,
        status,
        status === 413 ? 'PAYLOAD_TOO_LARGE' : 'BAD_REQUEST',
        'Could not read the request body',
        req,
      );
    });
  };

  /** Signature, JSON and routing: the company the request may act in, or an answer already sent. */
  const authenticate = async (
    req: Request,
    res: Response,
    callOf: (body: Record<string, unknown>) => unknown,
  ): Promise<
    | null
    | { kind: 'unroutable'; body: Record<string, unknown> }
    | { kind: 'ok'; companyId: string; body: Record<string, unknown>; route: CompanyRoute }
  > => {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const signature = await checkSignature(req, raw, config, db.platform, log, now());
    if (!signature.ok) {
      metrics.webhookSignatureRejections.inc({
        provider: 'retell_voice',
        reason: signature.reason,
      });
      log.warn(
        { reason: signature.reason, ip: req.ip, path: req.path },
        'voice request signature rejected',
      );
      sendError(res, 401, 'UNAUTHENTICATED', 'Unauthorized', req);
      return null;
    }
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      sendError(res, 400, 'BAD_USER_INPUT', 'The body is not JSON', req);
      return null;
    }
    if (!isRecord(body)) {
      sendError(res, 400, 'BAD_USER_INPUT', 'The body must be a JSON object', req);
      return null;
    }
    const route = await routeRetellCall(db.platform, callOf(body));
    if (route.kind !== 'company') {
      log.warn({ reason: route.reason, path: req.path }, 'voice request for no known company');
      return { kind: 'unroutable', body };
    }
    if (signature.credential && signature.credential.companyId !== route.companyId) {
      metrics.crossTenantAttempts.inc({ path: 'voice' });
      log.warn(
        { credentialId: signature.credential.id, requestId: requestIdOf(req) },
        "voice request signed with one company's credential for another company's call",
      );
      sendError(res, 403, 'FORBIDDEN', 'Forbidden', req);
      return null;
    }
    return { kind: 'ok', companyId: route.companyId, body, route };
  };

  // -------------------------------------------------------------------------------------------
  // Inbound call webhook

  const inbound = async (req: Request, res: Response) => {
    try {
      const auth = await authenticate(req, res, (body) => {
        const inner = isRecord(body.call_inbound) ? body.call_inbound : body;
        return { ...inner, direction: 'inbound' };
      });
      if (auth === null) return;
      if (auth.kind === 'unroutable') {
        res.json({ call_inbound: {} });
        return;
      }
      const inner = isRecord(auth.body.call_inbound) ? auth.body.call_inbound : auth.body;
      const result = await runInContext(
        {
          deps,
          actor: VOICE_ACTOR,
          companyId: auth.companyId,
          requestId: requestIdOf(req) ?? undefined,
          ip: req.ip,
        },
        async (ctx) => {
          const trx = await ctx.trx();
          const loaded = await loadVoiceCompany(trx);
          if (!loaded) return { call_inbound: {} };
          // Retell's inbound webhook carries no custom headers, so the per-company bearer secret
          // (a function-call header) does not apply here: address and signature do.
          return {
            call_inbound: await inboundAnswer(ctx, loaded.company, {
              agentId: typeof inner.agent_id === 'string' ? inner.agent_id : null,
              fromNumber: typeof inner.from_number === 'string' ? inner.from_number : null,
              phoneNumberId: auth.route.data.phoneNumberId,
              now: new Date(now()),
            }),
          };
        },
      );
      res.json(result);
    } catch (err) {
      log.error({ err, requestId: requestIdOf(req) }, 'inbound call answer failed');
      // An empty answer lets the call go ahead with the agent's defaults.
      res.json({ call_inbound: {} });
    }
  };

  // -------------------------------------------------------------------------------------------
  // Functions

  const runFunction = (fixed?: string) => async (req: Request, res: Response) => {
    const started = performance.now();
    // check-availability and check_availability are the same function.
    const name = fixed ?? String(req.params.name ?? '').replace(/-/g, '_');
    const fn: VoiceFunction | undefined = FUNCTION_BY_NAME.get(name);
    if (!fn) {
      sendError(res, 404, 'NOT_FOUND', `No voice function "${name.slice(0, 64)}"`, req);
      return;
    }
    let lang: 'de' | 'en' = 'en';
    try {
      const auth = await authenticate(req, res, (body) => body.call);
      if (auth === null) return;
      if (auth.kind === 'unroutable') {
        if (!isRecord(auth.body.call)) {
          sendError(
            res,
            400,
            'BAD_USER_INPUT',
            'call is required: the call object Retell sends',
            req,
          );
          return;
        }
        sendError(res, 403, 'FORBIDDEN', 'This agent or number belongs to no active company', req);
        return;
      }
      const { body } = auth;
      const call = body.call as Record<string, unknown>;
      const retellCallId = typeof call.call_id === 'string' ? call.call_id.trim() : '';
      if (!retellCallId || retellCallId.length > 200) {
        sendError(res, 400, 'BAD_USER_INPUT', 'call.call_id is required', req);
        return;
      }
      const args: Record<string, unknown> = isRecord(body.args)
        ? body.args
        : Object.fromEntries(Object.entries(body).filter(([k]) => k !== 'name' && k !== 'call'));
      const presented = presentedSecret(req);
      const at = new Date(now());
      // The customer's number: the caller on an inbound call, the one called on an outbound call.
      const customerNumber = call.direction === 'outbound' ? call.to_number : call.from_number;
      const result = await runInContext(
        {
          deps,
          actor: VOICE_ACTOR,
          companyId: auth.companyId,
          requestId: requestIdOf(req) ?? undefined,
          ip: req.ip,
        },
        async (ctx) => {
          const trx = await ctx.trx();
          const loaded = await loadVoiceCompany(trx);
          if (!loaded) return { kind: 'inactive' as const };
          lang = loaded.company.language;
          if (!secretAccepted(loaded.settings, presented, at.getTime())) {
            return { kind: 'unauthorized' as const };
          }
          const verdict = await limiter.take(`${auth.companyId}:${retellCallId}`, fn.name);
          const callRowId = await ensureCall(
            ctx,
            trx,
            call,
            retellCallId,
            auth.route.data,
            loaded.company.region,
          );
          let answer: VoiceAnswer;
          let outcome: Outcome;
          let replayed = false;
          if (!verdict.allowed) {
            metrics.rateLimitRejections.inc({ limiter: `voice_${verdict.limit}` });
            answer = {
              ok: false,
              outcome: 'refused',
              message: LIMIT_MESSAGES[lang],
              limit: verdict.limit,
            };
            outcome = 'limited';
          } else {
            const hash = fn.changes ? argsHash(args) : null;
            const stored = hash ? await claim(trx, auth.companyId, callRowId, fn.name, hash) : null;
            if (stored) {
              answer = stored;
              replayed = true;
            } else {
              answer = await fn.run({
                ctx,
                company: loaded.company,
                call: {
                  id: callRowId,
                  retellCallId,
                  fromNumber: typeof customerNumber === 'string' ? customerNumber : null,
                },
                args,
                now: at,
              });
              if (hash) {
                await trx('voice_idempotency')
                  .where({ call_id: callRowId, function_name: fn.name, args_hash: hash })
                  .update({ response: JSON.stringify(answer) });
              }
            }
            outcome = answer.outcome;
          }
          await trx('voice_function_calls').insert({
            company_id: auth.companyId,
            call_id: callRowId,
            function_name: fn.name,
            outcome,
            error_code: errorCodeOf(answer),
            latency_ms: Math.round(performance.now() - started),
            replayed,
            request_id: requestIdOf(req),
          });
          return { kind: 'answer' as const, answer, outcome };
        },
      );
      if (result.kind === 'inactive') {
        sendError(res, 403, 'FORBIDDEN', 'This company is not active', req);
        return;
      }
      if (result.kind === 'unauthorized') {
        metrics.authFailures.inc({ reason: 'voice_secret' });
        sendError(res, 401, 'UNAUTHENTICATED', 'Unauthorized', req);
        return;
      }
      metrics.voiceFunctionCalls.inc({ function: fn.name, outcome: result.outcome });
      res.json(result.answer);
    } catch (err) {
      if (err instanceof AppError && err.code !== 'INTERNAL') {
        // A domain error that no function explained: still something the agent can say.
        res.json({
          ok: false,
          outcome: 'invalid',
          message: INTERNAL_MESSAGES[lang],
          error: { code: err.code, field: err.field ?? null },
        });
        return;
      }
      log.error({ err, function: name, requestId: requestIdOf(req) }, 'voice function failed');
      metrics.voiceFunctionCalls.inc({ function: fn.name, outcome: 'error' });
      res.json({ ok: false, outcome: 'error', message: INTERNAL_MESSAGES[lang] });
    }
  };

  router.post('/api/retell/inbound', sourceCheck, rawBody, inbound);
  router.post('/api/retell/:endpointId/inbound', sourceCheck, rawBody, inbound);
  router.post(
    '/api/retell/collect-appointment',
    sourceCheck,
    rawBody,
    runFunction('book_appointment'),
  );
  router.post(
    '/api/retell/:endpointId/collect-appointment',
    sourceCheck,
    rawBody,
    runFunction('book_appointment'),
  );
  router.post('/api/retell/functions/:name', sourceCheck, rawBody, runFunction());
  router.post('/api/retell/:endpointId/functions/:name', sourceCheck, rawBody, runFunction());

  router.get('/api/retell/functions', async (req: Request, res: Response) => {
    res.setHeader('Cache-Control', 'no-store');
    let actor: Actor;
    try {
      actor = (await options.authenticate(req)).actor;
    } catch (err) {
      if (err instanceof AppError && err.httpStatus < 500) {
        sendError(res, err.httpStatus, err.code, err.message, req);
        return;
      }
      throw err;
    }
    const admin =
      actor.kind === 'platform_admin' || (actor.kind === 'user' && actor.roles.includes('admin'));
    if (!admin) {
      sendError(
        res,
        actor.kind === 'anonymous' ? 401 : 403,
        actor.kind === 'anonymous' ? 'UNAUTHENTICATED' : 'FORBIDDEN',
        'Admins only',
        req,
      );
      return;
    }
    const endpoint = typeof req.query.endpoint === 'string' ? req.query.endpoint : null;
    if (endpoint !== null && !/^[0-9a-f-]{36}$/i.test(endpoint)) {
      sendError(res, 400, 'BAD_USER_INPUT', 'endpoint must be a credential id', req);
      return;
    }
    const base = `${req.protocol}://${req.get('host')}`;
    res.json({
      inbound_webhook_url: inboundWebhookUrl(base, endpoint),
      functions: functionDefinitions(base, endpoint),
    });
  });

  return Object.assign(router, { close: () => limiter.close() });
}

function presentedSecret(req: Request): string | undefined {
  const header = req.header(SECRET_HEADER)?.trim();
  if (header) return header;
  const auth = req.header('authorization');
  const m = auth ? /^Bearer\s+(\S+)$/i.exec(auth.trim()) : null;
  return m ? m[1] : undefined;
}

function errorCodeOf(answer: VoiceAnswer): string | null {
  const e = answer.error as { code?: unknown } | undefined;
  if (e && typeof e.code === 'string') return e.code.slice(0, 64);
  if (typeof answer.field === 'string') return `field:${answer.field}`.slice(0, 64);
  if (typeof answer.limit === 'string') return answer.limit;
  return null;
}

/**
 * The answer stored for this call, function and arguments, or null after claiming the key. A
 * concurrent request with the same key waits on the unique key until the first commits, then
 * reads its answer.
 */
async function claim(
  trx: Knex.Transaction,
  companyId: string,
  callId: string,
  fn: string,
  hash: string,
): Promise<VoiceAnswer | null> {
  const inserted = await trx('voice_idempotency')
    .insert({ company_id: companyId, call_id: callId, function_name: fn, args_hash: hash })
    .onConflict(['company_id', 'call_id', 'function_name', 'args_hash'])
    .ignore()
    .returning('id');
  if (inserted.length > 0) return null;
  const row = await trx('voice_idempotency')
    .where({ call_id: callId, function_name: fn, args_hash: hash })
    .first<{ response: VoiceAnswer | null } | undefined>('response');
  return row?.response ?? null;
}

/** The Call row of a Retell call id, created on first sight (call_started may come later). */
async function ensureCall(
  ctx: RequestContext,
  trx: Knex.Transaction,
  call: Record<string, unknown>,
  retellCallId: string,
  route: { retellAgentId: string | null; phoneNumberId: string | null },
  region: string,
): Promise<string> {
  const existing = await trx('calls')
    .where('retell_call_id', retellCallId)
    .first<{ id: string } | undefined>('id');
  if (existing) return existing.id;
  const direction = call.direction === 'outbound' ? 'outbound' : 'inbound';
  const from = typeof call.from_number === 'string' ? call.from_number : null;
  const to = typeof call.to_number === 'string' ? call.to_number : null;
  const caller = e164OrNull(direction === 'outbound' ? to : from, region);
  const customer = caller
    ? await trx('customers').where('phone_e164', caller).first<{ id: string } | undefined>('id')
    : undefined;
  const inserted = await trx('calls')
    .insert({
      company_id: ctx.requireCompanyId(),
      retell_call_id: retellCallId,
      direction,
      status: 'registered',
      from_number: from ? (e164OrNull(from) ?? from.slice(0, 40)) : null,
      to_number: to ? (e164OrNull(to) ?? to.slice(0, 40)) : null,
      retell_agent_id: route.retellAgentId,
      phone_number_id: route.phoneNumberId,
      customer_id: customer?.id ?? null,
    })
    .onConflict(['company_id', 'retell_call_id'])
    .ignore()
    .returning<{ id: string }[]>('id');
  if (inserted[0]) {
    ctx.deps.metrics.callsReceived.inc({ direction });
    return inserted[0].id;
  }
  const row = await trx('calls').where('retell_call_id', retellCallId).first<{ id: string }>('id');
  return row.id;
}
