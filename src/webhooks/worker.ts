import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
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
  failWebhookEvent,
  type ClaimedEvent,
} from './inbox';
import { applyRetellCallEvent, isRetellCallEvent, type EffectResult } from './retell-effects';
import { routeCalcomBooking, routeRetellCall, type Route } from './routing';
import { deferForSuspendedCompany } from '../companies/webhook-deferral';

export interface WebhookWorkerOptions {
  /** How often to look for due events when idle. */
  pollIntervalMs: number;
  batchSize: number;
  /** Events of one batch processed side by side. */
  concurrency: number;
  /** How long a claim lasts; a worker that dies holding events loses them after this. */
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
  batchSize: 25,
  concurrency: 4,
  leaseMs: 60_000,
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
  'processed' | 'ignored' | 'unroutable' | 'failed' | 'dead' | 'lost' | 'deferred';

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

  constructor(
    private readonly deps: AppDeps,
    options: Partial<WebhookWorkerOptions> = {},
  ) {
    this.options = {
      ...DEFAULT_WORKER_OPTIONS,
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
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.loop;
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
    } catch (err) {
      this.log.warn({ err }, 'webhook worker could not claim events; retrying');
      delay = Math.min(30_000, this.options.pollIntervalMs * 5);
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

  /** Claims one batch and processes it; returns how many events were claimed. */
  async runOnce(): Promise<number> {
    const { batchSize, leaseMs, workerId, concurrency } = this.options;
    const events = await claimWebhookEvents(this.deps.db.platform, workerId, batchSize, leaseMs);
    let next = 0;
    const lane = async () => {
      while (next < events.length) {
        const event = events[next++];
        await this.process(event);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, events.length) }, lane));
    return events.length;
  }

  /** Runs batches until nothing is due; for tests and tools. */
  async drain(maxBatches = 100): Promise<number> {
    let total = 0;
    for (let i = 0; i < maxBatches; i++) {
      const n = await this.runOnce();
      total += n;
      if (n === 0) break;
    }
    return total;
  }

  /** Processes one claimed event; never throws. */
  async process(event: ClaimedEvent): Promise<EventOutcome> {
    let companyId: string | null = event.resolvedCompanyId;
    let outcome: EventOutcome;
    try {
      outcome = await this.apply(event, (id) => {
        companyId = id;
      });
    } catch (err) {
      outcome = await this.recordFailure(event, companyId, err);
    }
    if (outcome !== 'lost') {
      this.deps.metrics.webhookProcessed.inc({ provider: event.provider, outcome });
    }
    return outcome;
  }

  private async apply(
    event: ClaimedEvent,
    setCompany: (id: string) => void,
  ): Promise<EventOutcome> {
    const { db } = this.deps;
    const { workerId } = this.options;
    const plan = await this.plan(event);
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
      {
        // The effect and the event's completion commit in one transaction, so it runs on the
        // platform handle (same row level security as the runtime role, bound to the company).
        deps: { ...this.deps, db: { ...db, knex: db.platform } },
        actor: { kind: 'system', name: 'webhook' },
        companyId: plan.companyId,
        requestId: `webhook:${event.id}`,
      },
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
  private async plan(event: ClaimedEvent): Promise<
    | { kind: 'ignore'; companyId: string | null }
    | { kind: 'unroutable'; reason: string }
    | {
        kind: 'apply';
        companyId: string;
        apply: (ctx: RequestContext) => Promise<EffectResult>;
      }
  > {
    const knex = this.deps.db.platform;
    const payload = isRecord(event.payload) ? event.payload : {};
    const bound = event.credentialCompanyId;
    if (event.provider === 'retell') {
      const type = event.eventType;
      const acted = isRetellCallEvent(type);
      if (!acted && !isRecord(payload.call)) return { kind: 'ignore', companyId: bound };
      const route = this.confine(event, await routeRetellCall(knex, payload.call));
      if (!acted) return { kind: 'ignore', companyId: bound ?? companyOf(route) };
      if (route.kind === 'unroutable') return route;
      return {
        kind: 'apply',
        companyId: route.companyId,
        apply: (ctx) => applyRetellCallEvent(ctx, type, payload.call, route.data),
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
      return 'failed';
    }
    return dead ? 'dead' : 'failed';
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

function describe(err: unknown): string {
  if (err instanceof BookingConflictError || err instanceof PermanentWebhookError)
    return err.message;
  if (err instanceof Error) return `${err.name}: ${err.message}`.slice(0, 2000);
  return String(err).slice(0, 2000);
}
