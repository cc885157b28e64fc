import { isUuid } from '../domain/ids';
import type { Knex } from 'knex';
import { actorId, actorLabel, type Actor } from '../context/actor';
import type { RequestContext } from '../context/request-context';
import { AppError, badInput, forbidden, notFound } from '../errors/app-error';
import { recordActivityIn } from '../domain/activity-log.service';
import { AUDIT, SUBJECT } from '../domain/audit';
import { writePlatformAudit } from '../services/platform-audit';
import { bindTenant, inTenantTransaction } from '../tenancy/tenant-binding';
import {
  WEBHOOK_PROVIDERS,
  WEBHOOK_STATUSES,
  type WebhookProvider,
  type WebhookStatus,
} from './envelope';

/**
 * What admins can see and do with the inbox. A company admin works inside their company's tenant
 * transaction, where row level security shows only events resolved to that company; a super admin
 * outside any company sees every event, unroutable ones included, through the platform functions.
 */

export type WebhookScope = { kind: 'company'; companyId: string } | { kind: 'platform' };

/** Who may look at the inbox: company admins (their company) and super admins (everything). */
export function webhookScope(ctx: RequestContext): WebhookScope {
  return scopeFor(ctx.actor, ctx.companyId);
}

export function scopeFor(actor: Actor, companyId: string | null): WebhookScope {
  switch (actor.kind) {
    case 'platform_admin':
      return companyId ? { kind: 'company', companyId } : { kind: 'platform' };
    case 'user':
      if (!actor.roles.includes('admin')) throw forbidden('Only admins can see webhook events');
      return { kind: 'company', companyId: companyId ?? actor.companyId };
    case 'anonymous':
      throw new AppError('UNAUTHENTICATED', 'Sign in first');
    default:
      throw forbidden('Only admins can see webhook events');
  }
}

export interface WebhookEventView {
  id: string;
  provider: WebhookProvider;
  eventType: string;
  status: WebhookStatus;
  attempts: number;
  dedupeKey: string;
  receivedAt: Date;
  /** When the next attempt is due (pending or failed events only). */
  nextAttemptAt: Date | null;
  processedAt: Date | null;
  lastError: string | null;
  /** The company the event was routed to; null while unrouted and for unroutable events. */
  companyId: string | null;
  replayCount: number;
  lastReplayedAt: Date | null;
  /** The event as received (parsed JSON). */
  payload: unknown;
}

interface Row {
  id: string;
  provider: WebhookProvider;
  event_type: string;
  status: WebhookStatus;
  attempts: number;
  dedupe_key: string;
  received_at: Date;
  next_attempt_at: Date;
  processed_at: Date | null;
  last_error: string | null;
  resolved_company_id: string | null;
  replay_count: number;
  last_replayed_at: Date | null;
  payload: unknown;
  cursor_at?: string;
}

const VIEW_COLUMNS = [
  'id',
  'provider',
  'event_type',
  'status',
  'attempts',
  'dedupe_key',
  'received_at',
  'next_attempt_at',
  'processed_at',
  'last_error',
  'resolved_company_id',
  'replay_count',
  'last_replayed_at',
  'payload',
];

/** received_at to the microsecond, as Postgres prints it, so a cursor never skips or repeats rows. */
const CURSOR_AT = `to_char(received_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as cursor_at`;

function toView(r: Row): WebhookEventView {
  return {
    id: r.id,
    provider: r.provider,
    eventType: r.event_type,
    status: r.status,
    attempts: r.attempts,
    dedupeKey: r.dedupe_key,
    receivedAt: r.received_at,
    nextAttemptAt: r.status === 'pending' || r.status === 'failed' ? r.next_attempt_at : null,
    processedAt: r.processed_at,
    lastError: r.last_error,
    companyId: r.resolved_company_id,
    replayCount: r.replay_count,
    lastReplayedAt: r.last_replayed_at,
    payload: r.payload,
  };
}

export interface ListWebhookEventsArgs {
  /** Page size, 1 to 100 (default 20). */
  first?: number | null;
  /** The endCursor of the previous page. */
  after?: string | null;
  provider?: WebhookProvider | null;
  status?: WebhookStatus | null;
  /** Super admins only: one company's events. */
  companyId?: string | null;
  /** Super admins only: events no company could be found for. */
  unroutableOnly?: boolean | null;
}

export interface WebhookEventConnection {
  edges: { cursor: string; node: WebhookEventView }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

function encodeCursor(at: string, id: string): string {
  return Buffer.from(JSON.stringify([at, id]), 'utf8').toString('base64url');
}

/** The instant a cursor carries, as CURSOR_AT writes it; anything else would fail in Postgres. */
const CURSOR_INSTANT = /^(\d{4})-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?Z$/;

function cursorInstant(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const match = CURSOR_INSTANT.exec(value);
  if (!match || Number(match[1]) < 1) return false;
  const time = Date.parse(value);
  return Number.isFinite(time) && new Date(time).toISOString().slice(0, 19) === value.slice(0, 19);
}

function decodeCursor(cursor: string): { at: string; id: string } {
  try {
    const decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    const [at, id] = Array.isArray(decoded) ? decoded : [];
    if (cursorInstant(at) && typeof id === 'string' && isUuid(id)) {
      return { at, id };
    }
  } catch {
    // fall through
  }
  throw badInput('after', 'Invalid cursor');
}

function checkFilters(args: ListWebhookEventsArgs): void {
  if (args.provider && !(WEBHOOK_PROVIDERS as readonly string[]).includes(args.provider)) {
    throw badInput('provider', 'Unknown provider');
  }
  if (args.status && !(WEBHOOK_STATUSES as readonly string[]).includes(args.status)) {
    throw badInput('status', 'Unknown status');
  }
  if (args.companyId && !isUuid(args.companyId)) throw badInput('companyId', 'Invalid company id');
}

/** A page of webhook events, newest first: the caller's company's, or all for a super admin. */
export async function listWebhookEvents(
  ctx: RequestContext,
  args: ListWebhookEventsArgs = {},
): Promise<WebhookEventConnection> {
  const scope = webhookScope(ctx);
  checkFilters(args);
  const first = Math.min(100, Math.max(1, Math.trunc(args.first ?? 20)));
  const after = args.after != null ? decodeCursor(args.after) : null;
  let rows: Row[];
  if (scope.kind === 'company') {
    if (args.companyId && args.companyId !== scope.companyId) {
      ctx.deps.metrics.crossTenantAttempts.inc({ path: 'webhookEvents' });
      throw forbidden('Not allowed');
    }
    if (args.unroutableOnly)
      return { edges: [], pageInfo: { hasNextPage: false, endCursor: null } };
    const trx = await ctx.trx();
    const q = trx('webhook_events')
      .select(...VIEW_COLUMNS, trx.raw(CURSOR_AT))
      // Row level security already limits this to the tenant; the filter says so explicitly.
      .where('resolved_company_id', scope.companyId)
      .orderBy([
        { column: 'received_at', order: 'desc' },
        { column: 'id', order: 'desc' },
      ])
      .limit(first + 1);
    if (args.provider) q.where('provider', args.provider);
    if (args.status) q.where('status', args.status);
    if (after) q.whereRaw('(received_at, id) < (?::timestamptz, ?::uuid)', [after.at, after.id]);
    rows = (await q) as Row[];
  } else {
    const { rows: found } = await ctx.deps.db.platform.raw<{ rows: Row[] }>(
      `select ${VIEW_COLUMNS.join(', ')}, ${CURSOR_AT}
         from platform_webhook_events(null, ?, ?, ?, ?::text[], ?::timestamptz, ?::uuid, ?)`,
      [
        args.companyId ?? null,
        args.unroutableOnly ?? false,
        args.provider ?? null,
        args.status ? [args.status] : null,
        after?.at ?? null,
        after?.id ?? null,
        first + 1,
      ],
    );
    rows = found;
    await auditPlatformRead(ctx, 'webhook_event.list_across_companies', args.companyId ?? null, {
      unroutableOnly: args.unroutableOnly ?? false,
      returned: Math.min(found.length, first),
    });
  }
  const page = rows.slice(0, first);
  const edges = page.map((r) => ({ cursor: encodeCursor(r.cursor_at!, r.id), node: toView(r) }));
  return {
    edges,
    pageInfo: { hasNextPage: rows.length > first, endCursor: edges.at(-1)?.cursor ?? null },
  };
}

export interface WebhookStats {
  scope: 'company' | 'platform';
  companyId: string | null;
  /** Counts cover events received since then, plus every event still waiting or failing. */
  since: Date;
  counts: {
    provider: WebhookProvider;
    status: WebhookStatus;
    count: number;
    oldestReceivedAt: Date;
  }[];
  totals: Record<WebhookStatus, number>;
  /** Newest failed and dead events (and unroutable and rejected ones for super admins). */
  recentFailures: WebhookEventView[];
}

/** Counts by provider and status plus the latest failures, for the monitor. */
export async function webhookStats(
  ctx: RequestContext,
  options: { since?: Date; failures?: number } = {},
): Promise<WebhookStats> {
  const scope = webhookScope(ctx);
  const since = options.since ?? new Date(Date.now() - 24 * 3600_000);
  const limit = Math.min(100, Math.max(1, options.failures ?? 20));
  let counts: {
    provider: WebhookProvider;
    status: WebhookStatus;
    events: string;
    oldest_received_at: Date;
  }[];
  let failures: Row[];
  if (scope.kind === 'company') {
    const trx = await ctx.trx();
    const grouped: unknown = await trx('webhook_events')
      .select('provider', 'status')
      .count({ events: '*' })
      .min({ oldest_received_at: 'received_at' })
      .where('resolved_company_id', scope.companyId)
      .andWhere((q) =>
        q
          .where('received_at', '>=', since)
          .orWhereIn('status', ['pending', 'processing', 'failed']),
      )
      .groupBy('provider', 'status');
    counts = grouped as typeof counts;
    failures = (await trx('webhook_events')
      .select(...VIEW_COLUMNS)
      .where('resolved_company_id', scope.companyId)
      .whereIn('status', ['failed', 'dead'])
      .orderBy('received_at', 'desc')
      .limit(limit)) as Row[];
  } else {
    const knex = ctx.deps.db.platform;
    counts = (
      await knex.raw<{
        rows: typeof counts;
      }>('select * from platform_webhook_stats(?)', [since])
    ).rows;
    failures = (
      await knex.raw<{ rows: Row[] }>(
        `select ${VIEW_COLUMNS.join(', ')} from platform_webhook_events(null, null, false, null, ?::text[], null, null, ?)`,
        [['failed', 'dead', 'unroutable', 'rejected'], limit],
      )
    ).rows;
  }
  const totals = Object.fromEntries(WEBHOOK_STATUSES.map((s) => [s, 0])) as Record<
    WebhookStatus,
    number
  >;
  const list = counts.map((c) => {
    const count = Number(c.events);
    totals[c.status] += count;
    return {
      provider: c.provider,
      status: c.status,
      count,
      oldestReceivedAt: c.oldest_received_at,
    };
  });
  list.sort((a, b) => a.provider.localeCompare(b.provider) || a.status.localeCompare(b.status));
  return {
    scope: scope.kind,
    companyId: scope.kind === 'company' ? scope.companyId : null,
    since,
    counts: list,
    totals,
    recentFailures: failures.map(toView),
  };
}

/** A super admin's read of events across companies, in the platform audit log. */
async function auditPlatformRead(
  ctx: RequestContext,
  action: string,
  companyId: string | null,
  details: Record<string, unknown>,
): Promise<void> {
  await writePlatformAudit(ctx.deps.db.platform, {
    actorType: ctx.actor.kind === 'platform_admin' ? 'platform_admin' : 'system',
    actorId: actorId(ctx.actor),
    action,
    targetCompanyId: companyId,
    details,
    requestId: ctx.requestId,
    ip: ctx.ip ?? null,
  });
}

const REPLAYABLE: readonly WebhookStatus[] = ['failed', 'dead', 'unroutable'];

/**
 * Puts a failed, dead or unroutable event back in the queue (attempts reset), for after the cause
 * was fixed: a mapping added, a conflicting appointment moved. Written to the activity log of the
 * event's company, in the same transaction; an unroutable event has no company, so its replay is
 * recorded on the event itself (replay_count, last_replayed_at/by) and in the server log.
 */
export async function replayWebhookEvent(
  ctx: RequestContext,
  eventId: string,
): Promise<WebhookEventView> {
  const scope = webhookScope(ctx);
  if (!isUuid(eventId)) throw notFound('Webhook event');
  const by = actorLabel(ctx.actor);
  if (scope.kind === 'company') {
    // webhook_replay is a platform function: the runtime role cannot execute it, so the replay and
    // its activity log entry run in one platform transaction bound to the company (the same row
    // level security as the request's own transaction).
    return inTenantTransaction(ctx.deps.db.platform, scope.companyId, async (trx) => {
      const before = (await trx('webhook_events')
        .first('status', 'provider', 'event_type')
        .where({ id: eventId, resolved_company_id: scope.companyId })) as
        { status: WebhookStatus; provider: string; event_type: string } | undefined;
      if (!before) throw notFound('Webhook event');
      const row = await replayRow(trx, eventId, by, before.status);
      await auditReplay(ctx, trx, eventId, before);
      return toView(row);
    });
  }
  const { metrics, logger, db } = ctx.deps;
  return db.platform.transaction(async (trx) => {
    const { rows } = await trx.raw<{ rows: Row[] }>(
      `select ${VIEW_COLUMNS.join(', ')} from platform_webhook_events(?, null, false, null, null, null, null, 1)`,
      [eventId],
    );
    const before = rows[0];
    if (!before) throw notFound('Webhook event');
    const row = await replayRow(trx, eventId, by, before.status);
    await writePlatformAudit(trx, {
      actorType: ctx.actor.kind === 'platform_admin' ? 'platform_admin' : 'system',
      actorId: actorId(ctx.actor),
      action: 'webhook_event.replay',
      targetCompanyId: before.resolved_company_id ?? null,
      details: { eventId, provider: before.provider, previousStatus: before.status },
      requestId: ctx.requestId,
      ip: ctx.ip ?? null,
    });
    metrics.tenantScopeBypasses.inc({ actor: ctx.actor.kind });
    logger.info(
      {
        eventId,
        provider: before.provider,
        previousStatus: before.status,
        by,
        requestId: ctx.requestId,
      },
      'webhook event replayed',
    );
    if (before.resolved_company_id) {
      await bindTenant(trx, before.resolved_company_id);
      await auditReplay(ctx, trx, eventId, before);
    }
    return toView(row);
  });
}

/** The company's activity entry of a replay, in the replay's transaction (bound to that company). */
async function auditReplay(
  ctx: RequestContext,
  trx: Knex.Transaction,
  eventId: string,
  before: { status: WebhookStatus | string; provider: string; event_type: string },
): Promise<void> {
  await recordActivityIn(ctx, trx, {
    action: AUDIT.webhookEvent.replayed,
    subjectType: SUBJECT.webhookEvent,
    subjectId: eventId,
    details: {
      provider: before.provider,
      eventType: before.event_type,
      previousStatus: before.status,
    },
  });
}

async function replayRow(
  trx: Knex.Transaction,
  eventId: string,
  by: string,
  status: WebhookStatus,
): Promise<Row> {
  if (!REPLAYABLE.includes(status)) {
    throw new AppError(
      'CONFLICT',
      `Only failed, dead or unroutable events can be replayed (this one is ${status})`,
      {
        details: { status },
      },
    );
  }
  const { rows } = await trx.raw<{ rows: Row[] }>(
    `select ${VIEW_COLUMNS.join(', ')} from webhook_replay(?, ?)`,
    [eventId, by],
  );
  // Changed state between the read and the update (a worker got to it first).
  if (!rows[0]) throw new AppError('CONFLICT', 'The event changed meanwhile; try again');
  return rows[0];
}
