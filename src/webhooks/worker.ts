import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { AppDeps } from '../context/deps';
import { runInContext, type RequestContext } from '../context/request-context';
import { outsideRequest } from '../observability/context';
import type { BackgroundService } from '../runtime/background-service';
import { applyCalcomBookingEvent, isCalcomBookingEvent } from './calcom-effects';
import { isRecord } from './envelope';
import { BookingConflictError, PermanentWebhookError } from './errors';
import {
  claimWebhookEvents,
  completeWebhookEvent,
  completeWebhookEvents,
  extendWebhookLeases,
  failWebhookEvent,
  releaseWebhookEvents,
  type ClaimedEvent,
} from './inbox';
import {
  applyRetellCallEvent,
  applyRetellCallGroup,
  isRetellCallEvent,
  retellCallOf,
  type EffectResult,
  type RetellCallItem,
} from './retell-effects';
import { routeCalcomBooking, routeRetellCall, type RetellRouteData, type Route } from './routing';
import { deferForSuspendedCompany } from '../companies/webhook-deferral';

export interface WebhookWorkerOptions {
  /** How often to look for due events when idle. */
  pollIntervalMs: number;
  batchSize: number;
  /** Companies of one batch applied side by side (each in a transaction of its own). */
  concurrency: number;
  /**
   * Events of one company applied in one transaction: Retell call events all together with
   * set-based statements, the others (or all, when that fails) each in a savepoint of its own.
   */
  groupSize: number;
  /**
   * How long a claim lasts; a worker that dies holding events loses them after this. A worker
   * that lives extends the leases of the events it is still applying every third of it.
   */
  leaseMs: number;
  /** Attempts before an event is dead. */
  maxAttempts: number;
  /** Retry delay after the first failure, doubling with each further one up to backoffMaxMs. */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Processed and ignored events are deleted after this long (0 keeps them forever). */
  retentionMs: number;
  /** Name of this worker in locked_by; unique per process. */
  workerId: string;
}

export const DEFAULT_WORKER_OPTIONS: Omit<WebhookWorkerOptions, 'workerId'> = {
  pollIntervalMs: 1000,
  batchSize: 500,
  concurrency: 4,
  groupSize: 250,
  leaseMs: 15_000,
  maxAttempts: 8,
  backoffBaseMs: 10_000,
  backoffMaxMs: 60 * 60_000,
  retentionMs: 30 * 24 * 3600_000,
};

const PURGE_EVERY_MS = 3600_000;
const PURGE_BATCH = 1000;
const PURGE_MAX_BATCHES = 200;

/** What one event turned into, for the counters and the caller. */
export type EventOutcome =
  | 'processed'
  | 'ignored'
  | 'unroutable'
  | 'failed'
  | 'dead'
  | 'lost'
  | 'deferred'
  /** Not finished because the database could not be reached; handed back, not a failure. */
  | 'interrupted';

type Plan =
  | { kind: 'ignore'; companyId: string | null }
  | { kind: 'unroutable'; reason: string }
  | {
      kind: 'apply';
      companyId: string;
      apply: (ctx: RequestContext) => Promise<EffectResult>;
      /** A Retell call event, which can be applied together with others of its company. */
      retell?: { event: RetellCallItem['event']; call: unknown; route: RetellCallItem['route'] };
    };

interface Planned {
  event: ClaimedEvent;
  companyId: string;
  plan: Extract<Plan, { kind: 'apply' }>;
}

/** The delay before attempt `attempts + 1`: exponential with ±20 % jitter, so retries spread out. */
export function backoffDelayMs(
  attempts: number,
  baseMs: number,
  maxMs: number,
  random = Math.random,
): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempts - 1));
  return Math.round(exp * (0.8 + 0.4 * random()));
}

/**
 * Processes the inbox in the server process. Several processes can run it at once: claims use
 * FOR UPDATE SKIP LOCKED, and each claim is a lease, so the events of a crashed worker are claimed
 * again once it runs out. An event's effect and its `processed` mark commit in one transaction.
 */
export class WebhookWorker implements BackgroundService {
  readonly name = 'webhook-worker';
  readonly options: WebhookWorkerOptions;
  private readonly log: Logger;
  private running = false;
  private timer?: NodeJS.Timeout;
  private loop?: Promise<void>;
  private nudged = false;
  private lastPurge = 0;
  private stopping = false;
  private failedTicks = 0;
  /** Claimed by this worker and not finished: their leases are extended by the heartbeat. */
  private readonly held = new Set<string>();
  /** Events whose outcome could not be recorded (database away): handed back once it answers. */
  private readonly interrupted = new Set<string>();
  private heartbeat?: NodeJS.Timeout;
  private beating = false;
  /** The next batch, claimed while the current one is applied. */
  private prefetched?: Promise<ClaimedEvent[]>;
  /**
   * Events applied by this worker in groups (set-based, together), and groups that failed and were
   * applied again one event at a time. For tests and the bench.
   */
  readonly groupStats = { eventsTogether: 0, groupsFallenBack: 0 };

  constructor(
    private readonly deps: AppDeps,
    options: Partial<WebhookWorkerOptions> = {},
  ) {
    this.options = {
      ...DEFAULT_WORKER_OPTIONS,
      concurrency: deps.config.webhookWorkerConcurrency ?? DEFAULT_WORKER_OPTIONS.concurrency,
      batchSize: deps.config.webhookWorkerBatchSize ?? DEFAULT_WORKER_OPTIONS.batchSize,
      // One connection (the embedded database) gains nothing from parallel transactions.
      ...(deps.db.kind === 'pglite' ? { concurrency: 1 } : {}),
      workerId: `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`,
      ...options,
    };
    this.log = deps.logger.child({ component: 'webhook-worker', worker: this.options.workerId });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopping = false;
    this.schedule(0);
  }

  /**
   * Stops after the transactions in flight; the events of the batch not yet started, and those
   * left unfinished by a database failure, are handed back so another worker takes them at once.
   */
  async stop(): Promise<void> {
    this.running = false;
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.loop;
    await this.dropPrefetched();
    await this.releaseInterrupted().catch((err: unknown) => {
      this.log.warn({ err }, 'could not hand back unfinished webhook events; their leases run out');
    });
    this.stopHeartbeat();
  }

  /** Ids of the events this worker holds now (claimed, not finished). */
  get heldEventIds(): string[] {
    return [...this.held];
  }

  /** New work was stored by this process: look now instead of at the next poll. */
  notify(): void {
    if (!this.running) return;
    if (this.loop) {
      this.nudged = true;
      return;
    }
    this.schedule(0);
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    // Outside any request's context: notify() is called by the request that stored an event.
    this.timer = outsideRequest(() =>
      setTimeout(() => {
        this.timer = undefined;
        this.loop = this.tick().finally(() => {
          this.loop = undefined;
        });
      }, delayMs),
    );
    this.timer.unref?.();
  }

  private async tick(): Promise<void> {
    let delay = this.options.pollIntervalMs;
    try {
      this.nudged = false;
      const claimed = await this.runOnce();
      if (claimed >= this.options.batchSize || this.nudged) delay = 0;
      await this.maybePurge();
      this.failedTicks = 0;
    } catch (err) {
      // Retried soon (the database may be back in a moment), backing off to 5 s.
      this.failedTicks++;
      this.log.warn({ err }, 'webhook worker could not claim events; retrying');
      delay = Math.min(5000, 250 * 2 ** Math.min(this.failedTicks, 5));
    }
    this.schedule(delay);
  }

  private async maybePurge(): Promise<void> {
    if (this.options.retentionMs <= 0 || Date.now() - this.lastPurge < PURGE_EVERY_MS) return;
    this.lastPurge = Date.now();
    const before = new Date(Date.now() - this.options.retentionMs);
    // Small batches keep each delete short; a bounded number per run keeps the worker responsive.
    let deleted = 0;
    for (let i = 0; i < PURGE_MAX_BATCHES && this.running; i++) {
      const { rows } = await this.deps.db.platform.raw<{ rows: { n: number }[] }>(
        'select webhook_purge(?, ?) as n',
        [before, PURGE_BATCH],
      );
      deleted += rows[0]?.n ?? 0;
      if ((rows[0]?.n ?? 0) < PURGE_BATCH) break;
    }
    if (deleted > 0) this.log.info({ deleted }, 'old webhook events purged');
  }

  /**
   * Claims one batch (or takes the one claimed ahead) and processes it; returns how many events
   * were claimed. After a full batch the next one is claimed while this one is applied, so the
   * claim's round trip is not waited for between batches; its leases are extended meanwhile.
   */
  async runOnce(): Promise<number> {
    const { batchSize } = this.options;
    await this.releaseInterrupted();
    const ahead = this.prefetched;
    this.prefetched = undefined;
    const events = await (ahead ?? this.claim());
    if (events.length === 0) return 0;
    if (events.length >= batchSize && !this.stopping) {
      const next = this.claim();
      // Its failure is seen (and backed off from) by the next runOnce that awaits it.
      next.catch(() => undefined);
      this.prefetched = next;
    }
    try {
      await this.processBatch(events);
    } finally {
      if (this.stopping) await this.dropPrefetched();
      // Claimed but not started (the worker is stopping): handed back, not left to the lease.
      const left = events.map((e) => e.id).filter((id) => this.held.has(id));
      if (left.length > 0) {
        for (const id of left) {
          this.held.delete(id);
          this.interrupted.add(id);
        }
        await this.releaseInterrupted().catch((err: unknown) => {
          this.log.warn({ err }, 'could not hand back unstarted webhook events');
        });
      }
      if (this.held.size === 0) this.stopHeartbeat();
    }
    return events.length;
  }

  private async claim(): Promise<ClaimedEvent[]> {
    const { batchSize, leaseMs, workerId } = this.options;
    const events = await claimWebhookEvents(this.deps.db.platform, workerId, batchSize, leaseMs);
    for (const event of events) this.held.add(event.id);
    if (events.length > 0) this.startHeartbeat();
    return events;
  }

  /** Hands back a batch claimed ahead and not started (the worker stops). */
  private async dropPrefetched(): Promise<void> {
    const ahead = this.prefetched;
    this.prefetched = undefined;
    if (!ahead) return;
    let events: ClaimedEvent[];
    try {
      events = await ahead;
    } catch {
      return;
    }
    for (const event of events) {
      this.held.delete(event.id);
      this.interrupted.add(event.id);
    }
    await this.releaseInterrupted().catch((err: unknown) => {
      this.log.warn({ err }, 'could not hand back unstarted webhook events');
    });
    if (this.held.size === 0) this.stopHeartbeat();
  }

  /**
   * Processes a claimed batch: routes every event (one routing query per distinct agent and
   * number), finishes the ones with nothing to apply, then applies each company's events in
   * transactions of up to `groupSize` events, one savepoint per event, so a failing event fails
   * alone. Up to `concurrency` companies are applied side by side; one company's groups run one
   * after the other (they would otherwise wait on each other's row locks).
   */
  private async processBatch(events: ClaimedEvent[]): Promise<void> {
    const routes = new Map<string, Promise<Route<RetellRouteData>>>();
    const byCompany = new Map<string, Planned[]>();
    await this.lanes(events, async (event) => {
      let plan: Plan;
      try {
        plan = await this.plan(event, routes);
      } catch (err) {
        const outcome = await this.recordFailure(event, event.resolvedCompanyId, err);
        this.count(event, outcome);
        this.finish(event, outcome);
        return;
      }
      if (plan.kind !== 'apply') {
        this.finish(event, await this.process(event, plan));
        return;
      }
      const list = byCompany.get(plan.companyId) ?? [];
      list.push({ event, companyId: plan.companyId, plan });
      byCompany.set(plan.companyId, list);
    });
    await this.lanes([...byCompany.values()], async (planned) => {
      // Claim order within a company (the lanes above may have reordered them).
      planned.sort((x, y) => x.event.receivedAt.getTime() - y.event.receivedAt.getTime());
      for (let i = 0; i < planned.length && !this.stopping; i += this.options.groupSize) {
        await this.applyGroup(planned.slice(i, i + this.options.groupSize));
      }
    });
  }

  /** Runs `fn` over `items` in at most `concurrency` lanes; stops taking items when stopping. */
  private async lanes<T>(items: T[], fn: (item: T) => Promise<void>): Promise<void> {
    let next = 0;
    const lane = async () => {
      while (next < items.length && !this.stopping) await fn(items[next++]);
    };
    const n = Math.min(this.options.concurrency, items.length);
    await Promise.all(Array.from({ length: n }, lane));
  }

  private finish(event: ClaimedEvent, outcome: EventOutcome): void {
    this.held.delete(event.id);
    if (outcome === 'interrupted') this.interrupted.add(event.id);
  }

  /** One company's events: deferred when it is suspended, else applied. */
  private async applyGroup(group: Planned[]): Promise<void> {
    const { db } = this.deps;
    const { workerId } = this.options;
    const companyId = group[0].companyId;
    // A suspended company's events stay stored, unapplied, until it is reactivated.
    let deferred: boolean;
    try {
      deferred = await deferForSuspendedCompany(
        db.platform,
        group[0].event.id,
        workerId,
        companyId,
      );
    } catch (err) {
      for (const p of group) {
        const outcome = await this.recordFailure(p.event, companyId, err);
        this.count(p.event, outcome);
        this.finish(p.event, outcome);
      }
      return;
    }
    if (deferred) {
      this.count(group[0].event, 'deferred');
      this.finish(group[0].event, 'deferred');
      for (const p of group.slice(1)) this.finish(p.event, await this.process(p.event, p.plan));
      return;
    }
    // Retell call events together, set-based; what is left (other events, or all of them when
    // that failed) one savepoint each.
    const calls: Array<{ p: Planned; item: RetellCallItem }> = [];
    const others: Planned[] = [];
    for (const p of group) {
      const item = retellItem(p);
      if (item) calls.push({ p, item });
      else others.push(p);
    }
    if (calls.length > 1 && !(await this.applyCallsTogether(companyId, calls))) {
      await this.applyEach(companyId, group);
    } else {
      await this.applyEach(companyId, calls.length > 1 ? others : group);
    }
  }

  /**
   * A company's Retell call events in one transaction with a fixed number of statements, their
   * completion with them. Returns false, with nothing committed, when that failed for a reason
   * other than the database being away: the caller then applies them one by one, so the event at
   * fault fails alone.
   */
  private async applyCallsTogether(
    companyId: string,
    calls: Array<{ p: Planned; item: RetellCallItem }>,
  ): Promise<boolean> {
    const { workerId } = this.options;
    let effects: EffectResult[];
    try {
      effects = await runInContext(
        this.contextFor(companyId, `webhook-batch:${calls[0].p.event.id}`),
        async (ctx) => {
          const trx = await ctx.trx();
          const results = await applyRetellCallGroup(
            ctx,
            trx,
            calls.map((c) => c.item),
          );
          await completeWebhookEvents(
            trx,
            workerId,
            companyId,
            results.map((r, n) => ({
              id: calls[n].p.event.id,
              status: r.outcome,
              note: r.note ?? null,
            })),
          );
          return results;
        },
      );
    } catch (err) {
      if (isUnavailable(err)) {
        for (const { p } of calls) {
          const outcome = await this.recordFailure(p.event, companyId, err);
          this.count(p.event, outcome);
          this.finish(p.event, outcome);
        }
        return true;
      }
      this.groupStats.groupsFallenBack++;
      this.log.info(
        { err, events: calls.length, companyId },
        'webhook group could not be applied together; applying its events one by one',
      );
      return false;
    }
    this.groupStats.eventsTogether += calls.length;
    calls.forEach(({ p }, n) => {
      for (const fn of effects[n].afterCommit) fn();
      this.count(p.event, effects[n].outcome);
      this.finish(p.event, effects[n].outcome);
    });
    return true;
  }

  /** Events of one company in one transaction, a savepoint each. */
  private async applyEach(companyId: string, group: Planned[]): Promise<void> {
    if (group.length === 0) return;
    const { workerId } = this.options;
    const applied: Array<{ p: Planned; effect: EffectResult }> = [];
    const failed: Array<{ p: Planned; err: unknown }> = [];
    try {
      await runInContext(
        this.contextFor(companyId, `webhook-batch:${group[0].event.id}`),
        async (ctx) => {
          for (const p of group) {
            try {
              const effect = await ctx.unitOfWork(async (trx) => {
                const effect = await p.plan.apply(ctx);
                await completeWebhookEvent(
                  trx,
                  p.event.id,
                  workerId,
                  effect.outcome,
                  companyId,
                  effect.note ?? null,
                );
                return effect;
              });
              applied.push({ p, effect });
            } catch (err) {
              // Rows read in the rolled back savepoint must not be served to the next event.
              ctx.cache.clear();
              if (isUnavailable(err)) throw err;
              failed.push({ p, err });
            }
          }
        },
      );
    } catch (err) {
      // Nothing of the group committed. The database away: handed back. Otherwise each event
      // again on its own, so the one at fault fails alone.
      for (const p of group) {
        const outcome = isUnavailable(err)
          ? await this.recordFailure(p.event, companyId, err)
          : await this.process(p.event, p.plan);
        if (isUnavailable(err)) this.count(p.event, outcome);
        this.finish(p.event, outcome);
      }
      return;
    }
    for (const { p, effect } of applied) {
      for (const fn of effect.afterCommit) fn();
      this.count(p.event, effect.outcome);
      this.finish(p.event, effect.outcome);
    }
    for (const { p, err } of failed) {
      // A deadlock or serialization failure with a concurrent transaction: once more, alone.
      const outcome = isTransient(err)
        ? await this.process(p.event, p.plan)
        : await this.recordFailure(p.event, companyId, err);
      if (!isTransient(err)) this.count(p.event, outcome);
      this.finish(p.event, outcome);
    }
  }

  private count(event: ClaimedEvent, outcome: EventOutcome): void {
    if (outcome !== 'lost') {
      this.deps.metrics.webhookProcessed.inc({ provider: event.provider, outcome });
    }
  }

  private contextFor(companyId: string, requestId: string) {
    const { db } = this.deps;
    return {
      // The effect and the event's completion commit in one transaction, so it runs on the
      // platform handle (same row level security as the runtime role, bound to the company).
      deps: { ...this.deps, db: { ...db, knex: db.platform } },
      actor: { kind: 'system', name: 'webhook' } as const,
      companyId,
      requestId,
    };
  }

  /** Hands back the events left unfinished while the database was away. */
  private async releaseInterrupted(): Promise<void> {
    if (this.interrupted.size === 0) return;
    const ids = [...this.interrupted];
    const released = await releaseWebhookEvents(this.deps.db.platform, this.options.workerId, ids);
    for (const id of ids) this.interrupted.delete(id);
    this.log.info({ released, events: ids.length }, 'unfinished webhook events handed back');
  }

  private startHeartbeat(): void {
    if (this.heartbeat) return;
    const every = Math.max(100, Math.floor(this.options.leaseMs / 3));
    this.heartbeat = setInterval(() => void this.beat(), every);
    this.heartbeat.unref?.();
  }

  private stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  /** Extends the leases of the events still being applied. */
  private async beat(): Promise<void> {
    if (this.beating || this.held.size === 0) return;
    this.beating = true;
    try {
      const { workerId, leaseMs } = this.options;
      await extendWebhookLeases(this.deps.db.platform, workerId, [...this.held], leaseMs);
    } catch (err) {
      this.log.warn({ err }, 'could not extend webhook leases');
    } finally {
      this.beating = false;
    }
  }

  /** Runs batches until nothing is due; for tests and tools. */
  async drain(maxBatches = 100): Promise<number> {
    let total = 0;
    for (let i = 0; i < maxBatches; i++) {
      const n = await this.runOnce();
      total += n;
      if (n === 0) break;
    }
    await this.dropPrefetched();
    return total;
  }

  /** Processes one claimed event on its own (in a transaction of its own); never throws. */
  async process(event: ClaimedEvent, planned?: Plan): Promise<EventOutcome> {
    let companyId: string | null = event.resolvedCompanyId;
    let outcome: EventOutcome;
    try {
      outcome = await this.apply(event, planned, (id) => {
        companyId = id;
      });
    } catch (err) {
      outcome = await this.recordFailure(event, companyId, err);
    }
    this.count(event, outcome);
    return outcome;
  }

  private async apply(
    event: ClaimedEvent,
    planned: Plan | undefined,
    setCompany: (id: string) => void,
  ): Promise<EventOutcome> {
    const { db } = this.deps;
    const { workerId } = this.options;
    const plan = planned ?? (await this.plan(event));
    if (plan.kind === 'unroutable') {
      this.log.warn(
        { eventId: event.id, provider: event.provider, reason: plan.reason },
        'webhook event unroutable',
      );
      await completeWebhookEvent(db.platform, event.id, workerId, 'unroutable', null, plan.reason);
      return 'unroutable';
    }
    if (plan.kind === 'ignore') {
      await completeWebhookEvent(db.platform, event.id, workerId, 'ignored', plan.companyId, null);
      return 'ignored';
    }
    setCompany(plan.companyId);
    // A suspended company's events stay stored, unapplied, until it is reactivated.
    if (await deferForSuspendedCompany(db.platform, event.id, workerId, plan.companyId)) {
      return 'deferred';
    }
    const result = await runInContext(
      this.contextFor(plan.companyId, `webhook:${event.id}`),
      async (ctx) => {
        const effect = await plan.apply(ctx);
        const trx = await ctx.trx();
        await completeWebhookEvent(
          trx,
          event.id,
          workerId,
          effect.outcome,
          plan.companyId,
          effect.note ?? null,
        );
        return effect;
      },
    );
    for (const fn of result.afterCommit) fn();
    return result.outcome;
  }

  /** Decides what an event needs: nothing, a company it cannot find, or an effect in one company. */
  private async plan(
    event: ClaimedEvent,
    routes?: Map<string, Promise<Route<RetellRouteData>>>,
  ): Promise<Plan> {
    const knex = this.deps.db.platform;
    const payload = isRecord(event.payload) ? event.payload : {};
    const bound = event.credentialCompanyId;
    if (event.provider === 'retell') {
      const type = event.eventType;
      const acted = isRetellCallEvent(type);
      if (!acted && !isRecord(payload.call)) return { kind: 'ignore', companyId: bound };
      const route = this.confine(event, await this.routeCall(knex, payload.call, routes));
      if (!acted) return { kind: 'ignore', companyId: bound ?? companyOf(route) };
      if (route.kind === 'unroutable') return route;
      return {
        kind: 'apply',
        companyId: route.companyId,
        apply: (ctx) => applyRetellCallEvent(ctx, type, payload.call, route.data),
        retell: { event: type, call: payload.call, route: route.data },
      };
    }
    const type = event.eventType;
    const acted = isCalcomBookingEvent(type);
    if (!acted && !isRecord(payload.payload)) return { kind: 'ignore', companyId: bound };
    const route = this.confine(event, await routeCalcomBooking(knex, payload.payload, bound));
    if (!acted) return { kind: 'ignore', companyId: bound ?? companyOf(route) };
    if (route.kind === 'unroutable') return route;
    return {
      kind: 'apply',
      companyId: route.companyId,
      apply: (ctx) => applyCalcomBookingEvent(ctx, type, payload.payload, route.data),
    };
  }

  /** Routes a Retell call; within a batch, one query per distinct agent and business number. */
  private routeCall(
    knex: Knex,
    call: unknown,
    routes?: Map<string, Promise<Route<RetellRouteData>>>,
  ): Promise<Route<RetellRouteData>> {
    if (!routes || !isRecord(call)) return routeRetellCall(knex, call);
    // The route depends on the agent and the business-side number only (not on the caller).
    const ours = call.direction === 'outbound' ? call.from_number : call.to_number;
    const key = JSON.stringify([call.agent_id, call.direction === 'outbound', ours]);
    let route = routes.get(key);
    if (!route) {
      route = routeRetellCall(knex, call);
      // A failed lookup is not remembered: the next event asks again.
      route.catch(() => routes.delete(key));
      routes.set(key, route);
    }
    return route;
  }

  /**
   * An event verified by a company's own credential may only touch that company. When its body
   * routes to another company (an event type, agent or number that is not the credential's), it
   * becomes unroutable and is counted as a cross-tenant attempt; nothing is written anywhere.
   */
  private confine<T>(event: ClaimedEvent, route: Route<T>): Route<T> {
    const bound = event.credentialCompanyId;
    if (!bound || route.kind !== 'company' || route.companyId === bound) return route;
    this.deps.metrics.crossTenantAttempts.inc({ path: `webhook_${event.provider}` });
    this.log.warn(
      { eventId: event.id, provider: event.provider, credentialCompanyId: bound },
      'webhook event refused: its credential belongs to another company than the event routes to',
    );
    return {
      kind: 'unroutable',
      reason: "cross-tenant: the event routes to a company other than its credential's company",
    };
  }

  private async recordFailure(
    event: ClaimedEvent,
    companyId: string | null,
    err: unknown,
  ): Promise<EventOutcome> {
    const { workerId, maxAttempts, backoffBaseMs, backoffMaxMs } = this.options;
    const message = describe(err);
    if (isUnavailable(err)) {
      // The database went away mid-event: nothing of it committed, and the event is not at fault.
      this.log.warn({ eventId: event.id, err }, 'webhook event interrupted: database unreachable');
      return 'interrupted';
    }
    if (isLeaseLost(err)) {
      // Another worker holds the event now; its outcome is the one that counts.
      this.log.warn({ eventId: event.id }, 'webhook event lease lost; effect rolled back');
      return 'lost';
    }
    const permanent = err instanceof PermanentWebhookError;
    const dead = permanent || event.attempts >= maxAttempts;
    const retryAt = dead
      ? null
      : new Date(Date.now() + backoffDelayMs(event.attempts, backoffBaseMs, backoffMaxMs));
    const level = err instanceof BookingConflictError || permanent ? 'warn' : 'error';
    this.log[level](
      {
        eventId: event.id,
        provider: event.provider,
        attempts: event.attempts,
        retryAt,
        err: permanent ? undefined : err,
      },
      `webhook event ${dead ? 'dead' : 'failed'}: ${message}`,
    );
    try {
      const recorded = await failWebhookEvent(
        this.deps.db.platform,
        event.id,
        workerId,
        companyId,
        message,
        retryAt,
      );
      if (!recorded) return 'lost';
    } catch (recordErr) {
      // The lease runs out and the event is claimed again: nothing is lost.
      this.log.error({ err: recordErr, eventId: event.id }, 'could not record webhook failure');
      return 'interrupted';
    }
    return dead ? 'dead' : 'failed';
  }
}

/** The Retell call event of a plan, checked, or null (not one, or one that will fail alone). */
function retellItem(p: Planned): RetellCallItem | null {
  const retell = p.plan.retell;
  if (!retell) return null;
  try {
    return { event: retell.event, call: retellCallOf(retell.call), route: retell.route };
  } catch {
    return null;
  }
}

function companyOf(route: Route<unknown>): string | null {
  return route.kind === 'company' ? route.companyId : null;
}

function isLeaseLost(err: unknown): boolean {
  const e = err as { code?: string; nativeError?: { code?: string }; message?: string };
  const code = e?.code ?? e?.nativeError?.code;
  return code === 'P0002' && /no longer claimed/.test(String(e?.message ?? ''));
}

function sqlState(err: unknown): string | undefined {
  const e = err as { code?: unknown; nativeError?: { code?: unknown } } | null;
  const code = e?.code ?? e?.nativeError?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * The database could not be reached or dropped the connection (restart, outage, admin shutdown,
 * a pool that cannot connect): a failure of the infrastructure, not of the event.
 */
export function isUnavailable(err: unknown): boolean {
  const code = sqlState(err);
  if (code) {
    if (/^(08|57P0[1-3])/.test(code)) return true;
    if (['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND'].includes(code))
      return true;
  }
  const message = err instanceof Error ? err.message : String(err);
  return /Connection terminated|connection (is )?closed|Knex: Timeout acquiring a connection|ECONNREFUSED|ECONNRESET|the database system is (starting up|shutting down)|terminating connection/i.test(
    message,
  );
}

function isTransient(err: unknown): boolean {
  const code = sqlState(err);
  return code === '40P01' || code === '40001';
}

function describe(err: unknown): string {
  if (err instanceof BookingConflictError || err instanceof PermanentWebhookError)
    return err.message;
  if (err instanceof Error) return `${err.name}: ${err.message}`.slice(0, 2000);
  return String(err).slice(0, 2000);
}
