import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { AppError } from '../errors/app-error';
import { ActivityLog } from '../models';
import { bindTenant, savepoint } from '../tenancy/tenant-binding';
import { actorId, actorType, type Actor } from './actor';
import type { AppDeps } from './deps';

export interface RequestContextInit {
  deps: AppDeps;
  actor: Actor;
  /** The company this request acts in; a user's or token's own, or the one a super admin chose. */
  companyId: string | null;
  requestId?: string;
  ip?: string;
  /** Statement timeout of the request transaction (GraphQL requests), in milliseconds. */
  statementTimeoutMs?: number;
}

/**
 * The savepoint transaction of the unit of work being run, per async call tree. Code inside a unit
 * of work that asks its context for the transaction gets the savepoint: the outer transaction is
 * blocked until the savepoint ends, so using it there would wait forever.
 */
const currentUnit = new AsyncLocalStorage<{ ctx: RequestContext; trx: Knex.Transaction }>();

/**
 * One typed context per unit of work (a GraphQL request, a webhook event, a voice-agent call),
 * built by the same code for all of them and passed as the first argument of every domain service.
 * It carries the actor, the tenant and one lazily opened transaction bound to that tenant: every
 * statement of the request runs in it, so the row level security setting holds for all of them.
 */
export class RequestContext {
  readonly deps: AppDeps;
  readonly actor: Actor;
  readonly companyId: string | null;
  readonly requestId: string;
  readonly ip?: string;
  private readonly statementTimeoutMs?: number;
  /** Per-request caches (DataLoaders), keyed by name. */
  readonly cache = new Map<string, unknown>();
  private trxPromise?: Promise<Knex.Transaction>;
  private finished = false;

  constructor(init: RequestContextInit) {
    this.deps = init.deps;
    this.actor = init.actor;
    this.companyId = init.companyId;
    this.requestId = init.requestId ?? randomUUID();
    this.ip = init.ip;
    this.statementTimeoutMs = init.statementTimeoutMs;
  }

  /** The company id, or FORBIDDEN when this context acts in no company. */
  requireCompanyId(): string {
    if (!this.companyId) {
      throw new AppError('FORBIDDEN', 'This operation needs a company: choose one first', {
        details: { reason: 'NO_COMPANY' },
      });
    }
    return this.companyId;
  }

  /** The request's tenant transaction (or the current unit of work's savepoint), opened on first use. */
  trx(): Promise<Knex.Transaction> {
    const unit = currentUnit.getStore();
    if (unit && unit.ctx === this) return Promise.resolve(unit.trx);
    return this.rootTrx();
  }

  private rootTrx(): Promise<Knex.Transaction> {
    if (this.finished) {
      return Promise.reject(new AppError('INTERNAL', 'request context already finished'));
    }
    if (!this.trxPromise) {
      const companyId = this.requireCompanyId();
      this.trxPromise = (async () => {
        const trx = await this.deps.db.knex.transaction();
        try {
          await bindTenant(trx, companyId, { statementTimeoutMs: this.statementTimeoutMs });
        } catch (err) {
          await trx.rollback().catch(() => undefined);
          throw err;
        }
        return trx;
      })();
    }
    return this.trxPromise;
  }

  get hasTransaction(): boolean {
    return this.trxPromise !== undefined;
  }

  /**
   * Runs one unit of work (a mutation) in a savepoint of the request transaction, so a failed
   * mutation leaves nothing half-written while earlier ones in the same request stand.
   */
  async unitOfWork<T>(fn: (trx: Knex.Transaction) => PromiseLike<T> | T): Promise<T> {
    const parent = await this.trx();
    return savepoint(parent, (inner) =>
      currentUnit.run({ ctx: this, trx: inner }, () => fn(inner)),
    );
  }

  /** Commits (ok) or rolls back the request transaction, if one was opened. Idempotent. */
  async finish(ok: boolean): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    if (!this.trxPromise) return;
    let trx: Knex.Transaction;
    try {
      trx = await this.trxPromise;
    } catch {
      return;
    }
    if (trx.isCompleted()) return;
    if (ok) await trx.commit();
    else await trx.rollback();
  }

  /** Writes an activity log entry in the request's tenant transaction. */
  async audit(entry: {
    action: string;
    subjectType?: string;
    subjectId?: string | null;
    reason?: string | null;
    details?: Record<string, unknown>;
  }): Promise<void> {
    const trx = await this.trx();
    await ActivityLog.query(trx).insert({
      actorType: actorType(this.actor),
      actorId: actorId(this.actor),
      action: entry.action,
      subjectType: entry.subjectType ?? null,
      subjectId: entry.subjectId ?? null,
      reason: entry.reason ?? null,
      details: entry.details ?? {},
      requestId: this.requestId,
      ip: this.ip ?? null,
    });
  }
}

/**
 * Runs `fn` in a context of its own that commits when `fn` resolves and rolls back when it throws;
 * for webhook processing, voice-agent calls, seeds and jobs.
 */
export async function runInContext<T>(
  init: RequestContextInit,
  fn: (ctx: RequestContext) => Promise<T>,
): Promise<T> {
  const ctx = new RequestContext(init);
  try {
    const result = await fn(ctx);
    await ctx.finish(true);
    return result;
  } catch (err) {
    await ctx.finish(false).catch(() => undefined);
    throw err;
  }
}
