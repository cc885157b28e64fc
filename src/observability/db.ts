import type { Knex } from 'knex';
import type { AppDeps } from '../context/deps';
import { requestStorage, type RequestObservation } from './context';
import type { StatementKind } from './metrics';

export interface DatabaseObservabilityOptions {
  /** Statements slower than this are counted in app_db_slow_statements_total and logged. */
  slowStatementSeconds?: number;
}

/** The review asks for an alert on any statement slower than 5 s. */
export const DEFAULT_SLOW_STATEMENT_SECONDS = 5;

/** Longest SQL text written to a slow-statement log line. */
const SQL_LOG_LIMIT = 1000;
/** Statements in flight that are tracked; a statement that never reports back is dropped past this. */
const PENDING_LIMIT = 10_000;

interface KnexQuery {
  __knexQueryUid?: string;
  sql?: string;
  method?: string;
}

interface Pending {
  started: bigint;
  kind: StatementKind;
  sql: string;
  observation?: RequestObservation;
}

const installed = new WeakMap<Knex, () => void>();

/**
 * Times every SQL statement the server's knex runs and attributes it to the HTTP request being
 * served (through the request's async context), counts and logs slow ones, and lets the scrape-time
 * gauges read the connection pool and the cross-tenant business figures. Installs once per knex
 * (a later call returns the first installation and its options stand); returns a function that
 * removes it again.
 */
export function observeDatabase(
  deps: AppDeps,
  options: DatabaseObservabilityOptions = {},
): () => void {
  const { knex } = deps.db;
  const existing = installed.get(knex);
  if (existing) return existing;
  const { metrics, logger } = deps;
  const slowSeconds = options.slowStatementSeconds ?? DEFAULT_SLOW_STATEMENT_SECONDS;
  const pending = new Map<string, Pending>();

  const onQuery = (query: KnexQuery) => {
    const observation = requestStorage.getStore();
    if (observation) observation.statements += 1;
    // Transaction control (BEGIN, COMMIT) reports no response, so only statements with a query id
    // are timed.
    const uid = query.__knexQueryUid;
    if (!uid) return;
    if (pending.size >= PENDING_LIMIT) {
      const oldest = pending.keys().next();
      if (!oldest.done) pending.delete(oldest.value);
    }
    const sql = query.sql ?? '';
    pending.set(uid, {
      started: process.hrtime.bigint(),
      kind: statementKind(sql),
      sql,
      observation,
    });
  };
  const settle = (query: KnexQuery, outcome: 'success' | 'error') => {
    const uid = query.__knexQueryUid;
    if (!uid) return;
    const entry = pending.get(uid);
    if (!entry) return;
    pending.delete(uid);
    const seconds = Number(process.hrtime.bigint() - entry.started) / 1e9;
    metrics.dbStatementDuration.observe({ kind: entry.kind, outcome }, seconds);
    if (entry.observation) entry.observation.dbSeconds += seconds;
    if (seconds >= slowSeconds) {
      metrics.dbSlowStatements.inc({ kind: entry.kind });
      // The SQL text has placeholders only: bound values may be personal data or secrets.
      logger.warn(
        {
          durationMs: Math.round(seconds * 1000),
          kind: entry.kind,
          outcome,
          sql: entry.sql.slice(0, SQL_LOG_LIMIT),
          requestId: entry.observation?.requestId,
          traceId: entry.observation?.trace.traceId,
        },
        'slow SQL statement',
      );
    }
  };
  const onResponse = (_response: unknown, query: KnexQuery) => settle(query, 'success');
  const onError = (_err: unknown, query: KnexQuery) => settle(query, 'error');

  // The platform handle's statements (sign-in, webhook ingest) and the read replica's are timed
  // the same way.
  const observed = [...new Set([knex, deps.db.platform, deps.db.replica])].filter(
    (k): k is Knex => k !== undefined,
  );
  for (const k of observed) {
    k.on('query', onQuery);
    k.on('query-response', onResponse);
    k.on('query-error', onError);
  }

  metrics.sources.pool = poolReader(deps);
  metrics.sources.business = businessRefresher(deps);

  const uninstall = () => {
    for (const k of observed) {
      k.off('query', onQuery);
      k.off('query-response', onResponse);
      k.off('query-error', onError);
    }
    pending.clear();
    metrics.sources.pool = undefined;
    metrics.sources.business = undefined;
    installed.delete(knex);
  };
  installed.set(knex, uninstall);
  return uninstall;
}

const KIND_BY_VERB: Record<string, StatementKind> = {
  select: 'select',
  with: 'select',
  insert: 'insert',
  update: 'update',
  delete: 'delete',
  begin: 'transaction',
  commit: 'transaction',
  rollback: 'transaction',
  savepoint: 'transaction',
  release: 'transaction',
};

/** The kind of a statement from its first word; a closed set, so it can be a label. */
export function statementKind(sql: string): StatementKind {
  const verb = /^\s*\(?\s*([a-z]+)/i.exec(sql)?.[1]?.toLowerCase();
  return (verb && KIND_BY_VERB[verb]) || 'other';
}

interface TarnPool {
  numUsed(): number;
  numPendingAcquires(): number;
  max: number;
}

function poolReader(
  deps: AppDeps,
): (() => { inUse: number; pending: number; max: number }) | undefined {
  // PGlite runs in-process over a single connection: a pool reading would say "100% in use" all
  // the time and mean nothing.
  if (deps.db.kind !== 'postgres') return undefined;
  const pool = (deps.db.knex.client as { pool?: Partial<TarnPool> }).pool;
  return () => {
    // The pool is created lazily and replaced on destroy, so it is looked up on every scrape.
    const current = (deps.db.knex.client as { pool?: Partial<TarnPool> }).pool ?? pool;
    if (
      !current ||
      typeof current.numUsed !== 'function' ||
      typeof current.numPendingAcquires !== 'function'
    ) {
      return { inUse: 0, pending: 0, max: deps.config.dbPoolMax };
    }
    return {
      inUse: current.numUsed(),
      pending: current.numPendingAcquires(),
      max: typeof current.max === 'number' ? current.max : deps.config.dbPoolMax,
    };
  };
}

interface CallbackRow {
  status: string;
  priority: string;
  requests: string | number;
  overdue: string | number;
}
interface InboxRow {
  provider: string;
  status: string;
  events: string | number;
  oldest_age_seconds: string | number | null;
}
interface CompanyRow {
  archived: boolean;
  companies: string | number;
}

const CALLBACK_STATUSES = ['pending', 'assigned', 'contacted'];
const CALLBACK_PRIORITIES = ['low', 'normal', 'high', 'urgent'];
/** How often a failing collector is logged at most. */
const COLLECTOR_LOG_INTERVAL_MS = 60_000;

/**
 * Reads the cross-tenant business figures through the platform functions (the runtime role cannot
 * read across companies otherwise). One scrape reads them once, however many gauges ask; a failing
 * collector clears its gauges, is counted, and is logged at most once a minute.
 */
function businessRefresher(deps: AppDeps): () => Promise<void> {
  const { metrics, logger } = deps;
  // The cross-tenant aggregates are platform functions: only the platform handle may call them.
  const knex = deps.db.platform;
  let inFlight: Promise<void> | undefined;
  const lastLogged = new Map<string, number>();

  const collect = async (collector: string, fn: () => Promise<void>, clear: () => void) => {
    try {
      await fn();
    } catch (err) {
      clear();
      metrics.collectorErrors.inc({ collector });
      const now = Date.now();
      if (now - (lastLogged.get(collector) ?? 0) >= COLLECTOR_LOG_INTERVAL_MS) {
        lastLogged.set(collector, now);
        logger.warn({ err, collector }, 'metrics collector failed');
      }
    }
  };

  const rows = async <T>(sql: string): Promise<T[]> => {
    const result: { rows: T[] } = await knex.raw(sql);
    return result.rows;
  };

  const refresh = async () => {
    await collect(
      'callback_requests',
      async () => {
        const result = await rows<CallbackRow>(
          'select status, priority, requests, overdue from platform_metrics_callback_requests()',
        );
        metrics.callbackRequestsOpen.reset();
        for (const status of CALLBACK_STATUSES) {
          for (const priority of CALLBACK_PRIORITIES) {
            metrics.callbackRequestsOpen.set({ status, priority }, 0);
          }
        }
        let overdue = 0;
        for (const row of result) {
          metrics.callbackRequestsOpen.set(
            { status: row.status, priority: row.priority },
            Number(row.requests),
          );
          overdue += Number(row.overdue);
        }
        metrics.callbackRequestsOverdue.set(overdue);
      },
      () => {
        metrics.callbackRequestsOpen.reset();
        metrics.callbackRequestsOverdue.reset();
      },
    );
    await collect(
      'webhook_inbox',
      async () => {
        const result = await rows<InboxRow>(
          'select provider, status, events, oldest_age_seconds from platform_metrics_webhook_inbox()',
        );
        metrics.webhookInboxEvents.reset();
        metrics.webhookInboxOldestAge.reset();
        for (const row of result) {
          const labels = { provider: row.provider, status: row.status };
          metrics.webhookInboxEvents.set(labels, Number(row.events));
          metrics.webhookInboxOldestAge.set(labels, Number(row.oldest_age_seconds ?? 0));
        }
      },
      () => {
        metrics.webhookInboxEvents.reset();
        metrics.webhookInboxOldestAge.reset();
      },
    );
    await collect(
      'companies',
      async () => {
        const result = await rows<CompanyRow>(
          'select archived, companies from platform_metrics_companies()',
        );
        const counts = { active: 0, archived: 0 };
        for (const row of result)
          counts[row.archived ? 'archived' : 'active'] += Number(row.companies);
        metrics.companies.set({ state: 'active' }, counts.active);
        metrics.companies.set({ state: 'archived' }, counts.archived);
      },
      () => metrics.companies.reset(),
    );
  };

  return () => {
    inFlight ??= refresh().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };
}
