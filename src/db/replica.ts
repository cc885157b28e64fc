import { performance } from 'node:perf_hooks';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Redis } from 'ioredis';
import type { Metrics } from '../observability/metrics';
import { RUNTIME_ROLE } from './schema-helpers';

/**
 * Where a read-only request transaction is opened, and why. `ok` is the replica; every other
 * reason is the primary: the actor wrote too recently for the replica to have it (`recent_write`),
 * whether it did could not be learned from the shared store (`write_unknown`), the replica is
 * further behind than the bound (`lagging`), the probe finds it down, not a standby or not
 * logging in as the runtime role (`unavailable`), or opening the transaction on it failed and the
 * request fell back (`replica_error`).
 */
export const REPLICA_READ_REASONS = [
  'ok',
  'recent_write',
  'write_unknown',
  'lagging',
  'unavailable',
  'replica_error',
] as const;
export type ReplicaReadReason = (typeof REPLICA_READ_REASONS)[number];

/** Opens the request's transaction on the given knex (BEGIN and the tenant binding). */
export type BeginTransaction = (knex: Knex) => Promise<Knex.Transaction>;

/** What the request context asks when it opens the READ ONLY transaction of a query. */
export interface ReadRoute {
  open(begin: BeginTransaction): Promise<Knex.Transaction>;
}

/** Why the probe considers the replica unusable, apart from its lag. */
export type ReplicaProblem =
  'not_probed' | 'unreachable' | 'primary_unreachable' | 'not_in_recovery' | 'wrong_role';

export interface ReplicaState {
  usable: boolean;
  /** Staleness now: how long ago the newest primary state the replica is known to hold was. */
  lagMs: number;
  problem?: ReplicaProblem;
}

export interface ReplicaRouterOptions {
  /** The request pools: the runtime role on the primary, and on the replica. */
  primary: Knex;
  replica: Knex;
  /** The probe's own connections (Database.replicaProbe); the request pools when not given. */
  probe?: { primary: Knex; replica: Knex };
  maxLagMs: number;
  probeIntervalMs: number;
  metrics: Pick<Metrics, 'replicaLag' | 'replicaReads' | 'replicaUsable'>;
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** The shared store of recent writes (the limiters' Redis), when there is one. */
  shared?: { redis: Redis; key: (actorKey: string) => string; ready: () => Promise<void> };
}

/** A Postgres LSN ("16/B374D848") as a number of bytes. */
export function parseLsn(text: string): bigint {
  const [hi, lo] = text.split('/');
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
}

const now = (): number => performance.now();

/**
 * Sends the read-only GraphQL requests to a streaming replica while it is close enough, and
 * everything else to the primary (docs/scaling.md, "Read replica").
 *
 * Lag is measured by LSN, not by replay timestamps (those stand still on an idle primary): a
 * background probe samples the primary's `pg_current_wal_lsn()` and then the replica's
 * `pg_last_wal_replay_lsn()`; the replica holds everything the primary had when the newest sample
 * it has replayed was taken (`caughtUpAt`). The lag at any moment is the time since then: an upper
 * bound, to within one probe interval, that keeps growing while the replica does not answer.
 *
 * Read-your-writes: a mutation request marks its actor when its answer is ready (all its fields
 * committed). In this process the actor reads from the primary until a probe sample taken after
 * that moment has been replayed; with a shared store (Redis) the mark is also kept there for the
 * lag bound plus a margin, so a request of the same actor in another process reads from the
 * primary too (past the bound that process's own lag check guarantees the write is there).
 */
export class ReplicaRouter {
  private readonly opts: ReplicaRouterOptions;
  private samples: Array<{ at: number; lsn: bigint }> = [];
  private caughtUpAt?: number;
  private lastProbeOkAt?: number;
  private problem?: ReplicaProblem = 'not_probed';
  /** Actor key to the moment its last write request finished (this process). */
  private readonly writes = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  private stopped = true;
  private probing?: Promise<void>;
  private lastUsable?: boolean;

  constructor(options: ReplicaRouterOptions) {
    this.opts = options;
    options.metrics.replicaLag.set(-1);
    onReplicaFailover(options.replica, (err) => {
      this.fail('unreachable', err);
      options.metrics.replicaReads.inc({ target: 'primary', reason: 'replica_error' });
    });
    for (const reason of REPLICA_READ_REASONS) {
      options.metrics.replicaReads.inc(
        { target: reason === 'ok' ? 'replica' : 'primary', reason },
        0,
      );
    }
  }

  /** Starts the background probe (outside any request). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const loop = () => {
      this.probing = this.probe().finally(() => {
        this.probing = undefined;
        if (!this.stopped) {
          this.timer = setTimeout(loop, this.opts.probeIntervalMs);
          this.timer.unref();
        }
      });
    };
    loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.probing;
  }

  /** How long a probe may take before it counts as failed. */
  private get probeTimeoutMs(): number {
    return Math.max(1000, this.opts.probeIntervalMs * 4);
  }

  /** One measurement: the primary's WAL position, then the replica's replay position. */
  async probe(): Promise<void> {
    const at = now();
    let primaryLsn: bigint;
    try {
      const { rows } = (await withTimeout(
        (this.opts.probe?.primary ?? this.opts.primary).raw(
          'select pg_current_wal_lsn()::text as lsn',
        ),
        this.probeTimeoutMs,
      )) as { rows: { lsn: string }[] };
      primaryLsn = parseLsn(rows[0].lsn);
    } catch (err) {
      this.fail('primary_unreachable', err);
      return;
    }
    this.samples.push({ at, lsn: primaryLsn });
    const horizon = Math.max(10_000, this.opts.maxLagMs * 3);
    while (this.samples.length > 1 && this.samples[0].at < at - horizon) this.samples.shift();
    let row: { recovery: boolean; lsn: string | null; session: string };
    try {
      const { rows } = (await withTimeout(
        (this.opts.probe?.replica ?? this.opts.replica).raw(
          `select pg_is_in_recovery() as recovery, pg_last_wal_replay_lsn()::text as lsn,
                  session_user::text as session`,
        ),
        this.probeTimeoutMs,
      )) as { rows: (typeof row)[] };
      row = rows[0];
    } catch (err) {
      this.fail('unreachable', err);
      return;
    }
    if (row.session !== RUNTIME_ROLE) {
      this.fail(
        'wrong_role',
        `DATABASE_REPLICA_URL logs in as ${row.session}, not ${RUNTIME_ROLE}`,
      );
      return;
    }
    if (!row.recovery || row.lsn === null) {
      this.fail('not_in_recovery', 'DATABASE_REPLICA_URL is not a standby in recovery');
      return;
    }
    const replayed = parseLsn(row.lsn);
    for (let i = this.samples.length - 1; i >= 0; i--) {
      if (this.samples[i].lsn <= replayed) {
        if (this.caughtUpAt === undefined || this.samples[i].at > this.caughtUpAt) {
          this.caughtUpAt = this.samples[i].at;
        }
        break;
      }
    }
    this.problem = undefined;
    this.lastProbeOkAt = now();
    // Writes the replica holds now need the primary no more.
    for (const [key, wroteAt] of this.writes) {
      if (this.caughtUpAt !== undefined && wroteAt < this.caughtUpAt) this.writes.delete(key);
    }
    this.report();
  }

  private fail(problem: ReplicaProblem, err: unknown): void {
    const changed = this.problem !== problem;
    this.problem = problem;
    if (changed) {
      const log = problem === 'wrong_role' ? this.opts.logger.error : this.opts.logger.warn;
      log.call(
        this.opts.logger,
        { problem, err: err instanceof Error ? err.message : String(err) },
        'read replica not used: reads go to the primary',
      );
    }
    this.report();
  }

  /** The replica as the next request would see it. */
  state(): ReplicaState {
    const t = now();
    const lagMs = this.caughtUpAt === undefined ? Infinity : Math.max(0, t - this.caughtUpAt);
    const fresh =
      this.lastProbeOkAt !== undefined &&
      t - this.lastProbeOkAt <= this.opts.probeIntervalMs * 3 + this.probeTimeoutMs;
    const problem = this.problem ?? (fresh ? undefined : 'unreachable');
    return { usable: !problem && lagMs <= this.opts.maxLagMs, lagMs, problem };
  }

  private report(): void {
    const state = this.state();
    this.opts.metrics.replicaLag.set(Number.isFinite(state.lagMs) ? state.lagMs / 1000 : -1);
    this.opts.metrics.replicaUsable.set(state.usable ? 1 : 0);
    if (state.usable !== this.lastUsable) {
      if (this.lastUsable !== undefined || !state.usable) {
        this.opts.logger.info(
          { usable: state.usable, lagMs: Math.round(state.lagMs), problem: state.problem },
          state.usable ? 'read replica in use' : 'read replica not in use',
        );
      }
      this.lastUsable = state.usable;
    }
  }

  /** How long another process must send an actor's reads to the primary after its write. */
  private get sharedWindowMs(): number {
    return this.opts.maxLagMs + 1000;
  }

  /**
   * Marks that `actorKey` has written; called once the request's writes are committed and
   * before its answer is sent.
   */
  async noteWrite(actorKey: string): Promise<void> {
    this.writes.set(actorKey, now());
    const shared = this.opts.shared;
    if (!shared) return;
    try {
      await shared.ready();
      await shared.redis.set(shared.key(actorKey), '1', 'PX', this.sharedWindowMs);
    } catch (err) {
      // The other processes will not know; they still read from the primary while the replica
      // lags beyond the bound, and the write is in the replica after that.
      this.opts.logger.warn(
        { err: err instanceof Error ? err.message : String(err) },
        'recent write not shared',
      );
    }
  }

  /** The route of one request's read-only transaction, for the actor (if it can write). */
  route(actorKey: string | undefined): ReadRoute {
    return { open: (begin) => this.open(actorKey, begin) };
  }

  private async decide(actorKey: string | undefined): Promise<ReplicaReadReason> {
    const state = this.state();
    if (!state.usable) return state.problem ? 'unavailable' : 'lagging';
    if (actorKey === undefined) return 'ok';
    const wroteAt = this.writes.get(actorKey);
    if (wroteAt !== undefined && (this.caughtUpAt === undefined || wroteAt >= this.caughtUpAt)) {
      return 'recent_write';
    }
    const shared = this.opts.shared;
    if (!shared) return 'ok';
    try {
      await shared.ready();
      return (await shared.redis.exists(shared.key(actorKey))) ? 'recent_write' : 'ok';
    } catch {
      return 'write_unknown';
    }
  }

  private async open(
    actorKey: string | undefined,
    begin: BeginTransaction,
  ): Promise<Knex.Transaction> {
    const reason = await this.decide(actorKey);
    if (reason === 'ok') {
      try {
        const trx = await begin(this.opts.replica);
        this.opts.metrics.replicaReads.inc({ target: 'replica', reason });
        return trx;
      } catch (err) {
        // Nothing was read yet: the request reads from the primary instead, and the replica
        // waits for the next successful probe.
        this.fail('unreachable', err);
        this.opts.metrics.replicaReads.inc({ target: 'primary', reason: 'replica_error' });
        return begin(this.opts.primary);
      }
    }
    this.opts.metrics.replicaReads.inc({ target: 'primary', reason });
    return begin(this.opts.primary);
  }
}

async function withTimeout<T>(promise: PromiseLike<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      Promise.resolve(promise),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const routers = new WeakMap<object, ReplicaRouter>();

/** Records the router of a server's dependencies (for its /metrics and its tests). */
export function registerReplicaRouter(deps: object, router: ReplicaRouter): void {
  routers.set(deps, router);
}

/** The read replica router of a server's dependencies, if it has one. */
export function replicaRouterOf(deps: object): ReplicaRouter | undefined {
  return routers.get(deps);
}

/** A statement of the open read-only transaction on a replica connection, to run again. */
interface Statement {
  sql: string;
  bindings?: unknown[];
  options?: Record<string, unknown>;
}
interface KnexQueryObject extends Statement {
  response?: unknown;
}
interface PgClientInternals {
  _query(connection: unknown, obj: KnexQueryObject): Promise<KnexQueryObject>;
  acquireConnection(): Promise<unknown>;
  releaseConnection(connection: unknown): Promise<void>;
}
interface ConnectionState {
  /** The statements of the open transaction, from its BEGIN, while it runs on the replica. */
  log?: Statement[];
  /** The primary connection the transaction continues on after the replica's was lost. */
  moved?: { connection: unknown; primary: PgClientInternals };
}

/** A lost connection (or a query cancelled by replay), not an error of the statement itself. */
export function isReplicaLoss(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | undefined;
  if (!e) return false;
  // admin_shutdown, crash_shutdown, cannot_connect_now; 40001 is also "canceling statement due
  // to conflict with recovery" on a standby.
  if (['57P01', '57P02', '57P03', '40001'].includes(e.code ?? '')) return true;
  return /Connection terminated|Connection ended|not queryable|ECONNRESET|EPIPE|ECONNREFUSED/i.test(
    e.message ?? '',
  );
}

const failoverListeners = new WeakMap<object, (err: unknown) => void>();

/** Called when a replica transaction moves to the primary midway (for the read counters). */
export function onReplicaFailover(replica: Knex, fn: (err: unknown) => void): void {
  failoverListeners.set(replica.client.config as object, fn);
}

/**
 * The replica pool: the runtime role's login on the standby. A READ ONLY transaction that loses
 * its replica connection midway (the standby stopped, or a statement cancelled by replay)
 * continues on a primary connection: the statements it ran so far (BEGIN READ ONLY, the tenant
 * binding, the reads) run again there, then the failed one, and everything after it until COMMIT.
 * Only reads are repeated, so the request is answered as if it had started on the primary.
 */
export function createReplicaKnex(
  knexFactory: (config: Knex.Config) => Knex,
  url: string,
  poolMax: number,
  primary: Knex,
): Knex {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const PgClient = require('knex/lib/dialects/postgres') as new (config: Knex.Config) => object;
  /* eslint-enable @typescript-eslint/no-require-imports */
  const states = new WeakMap<object, ConnectionState>();
  const base = PgClient.prototype as unknown as PgClientInternals;

  class ReplicaClient extends PgClient {
    declare config: Knex.Config;

    async _query(connection: object, obj: KnexQueryObject): Promise<KnexQueryObject> {
      let state = states.get(connection);
      if (!state) states.set(connection, (state = {}));
      const sql = obj.sql.trim();
      const ends = /^(COMMIT|ROLLBACK)\b/i.test(sql);
      if (/^BEGIN\b/i.test(sql)) state.log = /READ ONLY/i.test(sql) ? [] : undefined;
      if (state.moved) {
        const { connection: moved, primary: client } = state.moved;
        try {
          return await base._query.call(this, moved, obj);
        } finally {
          if (ends) {
            state.moved = undefined;
            state.log = undefined;
            await client.releaseConnection(moved);
          }
        }
      }
      try {
        const result = await base._query.call(this, connection, obj);
        if (ends) state.log = undefined;
        else state.log?.push({ sql: obj.sql, bindings: obj.bindings, options: obj.options });
        return result;
      } catch (err) {
        const log = state.log;
        // Only a read-only transaction already under way moves; a failed BEGIN is the router's
        // fallback, and a failed COMMIT or ROLLBACK of a read-only transaction loses nothing.
        if (!log || log.length === 0 || !isReplicaLoss(err)) throw err;
        state.log = undefined;
        if (ends) {
          obj.response = { command: sql.slice(0, sql.search(/\W|$/)).toUpperCase(), rows: [] };
          return obj;
        }
        const client = primary.client as unknown as PgClientInternals;
        const moved = await client.acquireConnection();
        try {
          for (const statement of log) await base._query.call(this, moved, { ...statement });
        } catch {
          await client.releaseConnection(moved);
          throw err;
        }
        state.moved = { connection: moved, primary: client };
        failoverListeners.get(this.config as object)?.(err);
        return base._query.call(this, moved, obj);
      }
    }
  }

  return knexFactory({
    client: ReplicaClient as unknown as typeof PgClient,
    compileSqlOnError: false,
    connection: { connectionString: url, connectionTimeoutMillis: 2000 },
    acquireConnectionTimeout: 2000,
    pool: { min: 0, max: poolMax },
  } as Knex.Config);
}
