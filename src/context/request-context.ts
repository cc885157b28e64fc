import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { AppError } from '../errors/app-error';
import { ActivityLog } from '../models';
import { openTransactionReading, savepoint } from '../tenancy/tenant-binding';
import type { AuditAction, SubjectType } from '../domain/audit';
import { actorId, actorType, type Actor } from './actor';
import type { AppDeps } from './deps';
import type { LiveKind } from '../live/bus';
import type { ReadRoute } from '../db/replica';

export interface RequestContextInit {
  deps: AppDeps;
  actor: Actor;
  /** The company this request acts in; a user's or token's own, or the one a super admin chose. */
  companyId: string | null;
  requestId?: string;
  ip?: string;
  /** Statement timeout of the request transaction (GraphQL requests), in milliseconds. */
  statementTimeoutMs?: number;
  /**
   * The request's READ ONLY transaction, already open and bound to `companyId` (authentication
   * opened it to check the session in its first round trip); the context owns it from here on.
   */
  readTransaction?: Knex.Transaction;
}

/**
 * Where every transaction of a request is opened: BEGIN, the tenant and the statement timeout in
 * one round trip, plus `firstQuery` when given (the session liveness check), whose rows come back
 * with the transaction. A transaction carrying the liveness check must read the primary: on a
 * lagging copy a logout or a disabled user would not take effect at once.
 */
export function openRequestTransaction<Row = Record<string, unknown>>(
  deps: AppDeps,
  options: { companyId: string | null; readOnly: boolean; statementTimeoutMs?: number },
  firstQuery?: string,
  /** The runtime role's pool to open it on: the primary's, or the read replica's. */
  knex: Knex = deps.db.knex,
): Promise<{ trx: Knex.Transaction; rows: Row[] }> {
  return openTransactionReading<Row>(
    knex,
    { ...options, multiStatement: deps.db.kind === 'postgres' },
    firstQuery,
  );
}

/**
 * One database transaction a context owns: the request's own (for the reads of a query, or for a
 * webhook event or job) or the one of a single root mutation field. Opened on first use.
 */
interface TxScope {
  readonly readOnly: boolean;
  trxPromise?: Promise<Knex.Transaction>;
  /** Set once committed or rolled back; code still holding the scope then gets the request's. */
  done: boolean;
  /** The first error a top-level unit of work of this scope threw; the scope is then rolled back. */
  failure?: { error: unknown };
  /** Run once the scope's transaction committed; dropped when it rolls back (`afterCommit`). */
  afterCommit?: Array<() => void>;
}

/**
 * Where the code running now stands, per async call tree: inside a root mutation field (its own
 * transaction) and possibly inside a unit of work (the transaction or savepoint the unit runs in).
 * Code inside a unit that asks its context for the transaction gets the unit's: an outer
 * transaction is blocked while one of its savepoints is open, so using it there would wait forever.
 */
const currentScope = new AsyncLocalStorage<{
  ctx: RequestContext;
  field?: TxScope;
  unit?: Knex.Transaction;
}>();

/** What the request runs: a query reads in one READ ONLY transaction, a mutation per field. */
export type OperationKind = 'query' | 'mutation';

/**
 * A COMMIT that did not commit: Postgres answered it with ROLLBACK (the transaction had failed) or
 * raised at commit time (a deferred constraint, a serialization failure). Nothing of the
 * transaction was kept.
 */
export class CommitFailedError extends AppError {
  constructor(cause?: unknown) {
    super('INTERNAL', 'The transaction was not committed', { cause });
  }
}

interface CommitOutcome {
  response?: { command?: string };
}

/**
 * Commits a transaction and proves it: knex resolves `commit()` even when Postgres answers COMMIT
 * with ROLLBACK or the COMMIT itself fails (the failure only rejects the transaction's execution
 * promise), so both are checked here.
 */
export async function commitTransaction(trx: Knex.Transaction): Promise<void> {
  const outcome = (await trx.commit()) as CommitOutcome | undefined;
  const execution = (trx as unknown as { executionPromise?: Promise<unknown> }).executionPromise;
  try {
    if (execution) await execution;
  } catch (err) {
    throw new CommitFailedError(err);
  }
  if (outcome?.response?.command?.toUpperCase() === 'ROLLBACK') throw new CommitFailedError();
}

/**
 * One typed context per unit of work (a GraphQL request, a webhook event, a voice-agent call),
 * built by the same code for all of them and passed as the first argument of every domain service.
 * It carries the actor, the tenant, and owns every database transaction of the request: it alone
 * opens, commits and rolls them back (see docs/architecture.md, "Transactions").
 *
 * - The request's transaction, bound to the tenant, opened on first use by `trx()`: the reads of a
 *   query (READ ONLY), the reads of a mutation's payloads, or all the work of a webhook event or
 *   job run by `runInContext`.
 * - A transaction per root mutation field (`inFieldTransaction`), committed before the field's
 *   value is returned; `trx()` and `unitOfWork()` inside the field use it.
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
  private root: TxScope = { readOnly: false, done: false };
  /** The live events of this context, published in order (`publishAfterCommit`). */
  private publishing: Promise<void> = Promise.resolve();
  private finished = false;
  /** Where a query's READ ONLY request transaction is opened (the read replica router). */
  private reads?: ReadRoute;

  constructor(init: RequestContextInit) {
    this.deps = init.deps;
    this.actor = init.actor;
    this.companyId = init.companyId;
    this.requestId = init.requestId ?? randomUUID();
    this.ip = init.ip;
    this.statementTimeoutMs = init.statementTimeoutMs;
    if (init.readTransaction) {
      this.root = {
        readOnly: true,
        done: false,
        trxPromise: Promise.resolve(init.readTransaction),
      };
    }
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

  /**
   * Declares what the request runs, before any statement: a query's (and a mutation's payload)
   * reads then share one READ ONLY transaction. Without it the request's transaction reads and
   * writes (webhook events, jobs).
   */
  beginOperation(kind: OperationKind, reads?: ReadRoute): void {
    // A query's reads, or a mutation's payload reads (its writes run in the fields' transactions).
    const readOnly = kind === 'query' || kind === 'mutation';
    if (!this.root.trxPromise && !this.root.done) this.root = { readOnly, done: false };
    if (kind === 'query') this.reads = reads;
  }

  /**
   * The tenant transaction for the code running now, opened on first use: the current unit of
   * work's, else the current mutation field's, else the request's.
   */
  trx(): Promise<Knex.Transaction> {
    this.requireCompanyId();
    const store = currentScope.getStore();
    if (store && store.ctx === this) {
      if (store.unit) return Promise.resolve(store.unit);
      if (store.field && !store.field.done) return this.open(store.field);
    }
    return this.rootTrx();
  }

  private rootTrx(): Promise<Knex.Transaction> {
    if (this.finished) {
      return Promise.reject(new AppError('INTERNAL', 'request context already finished'));
    }
    if (this.root.done) this.root = { readOnly: this.root.readOnly, done: false };
    return this.open(this.root);
  }

  /**
   * The transaction for the code running now when this context acts in no company: a super
   * admin's platform operation, which reads and writes through the platform functions and binds
   * the transaction to a company itself once it knows which (`bindTenant`). In a company it is
   * `trx()`.
   */
  platformTrx(): Promise<Knex.Transaction> {
    if (this.companyId) return this.trx();
    const store = currentScope.getStore();
    if (store && store.ctx === this) {
      if (store.unit) return Promise.resolve(store.unit);
      if (store.field && !store.field.done) return this.open(store.field, false);
    }
    if (this.finished) {
      return Promise.reject(new AppError('INTERNAL', 'request context already finished'));
    }
    if (this.root.done) this.root = { readOnly: this.root.readOnly, done: false };
    return this.open(this.root, false);
  }

  private open(scope: TxScope, bind = true): Promise<Knex.Transaction> {
    if (!scope.trxPromise) {
      const companyId = bind ? this.requireCompanyId() : null;
      const begin = (knex: Knex) => this.openTransaction(companyId, scope.readOnly, knex);
      // The one choice of database: a query's read-only transaction may go to the read replica.
      const reads = scope === this.root && scope.readOnly ? this.reads : undefined;
      scope.trxPromise = reads ? reads.open(begin) : begin(this.deps.db.knex);
    }
    return scope.trxPromise;
  }

  private openTransaction(
    companyId: string | null,
    readOnly: boolean,
    knex: Knex,
  ): Promise<Knex.Transaction> {
    return openRequestTransaction(
      this.deps,
      { companyId, readOnly, statementTimeoutMs: this.statementTimeoutMs },
      undefined,
      knex,
    ).then((opened) => opened.trx);
  }

  get hasTransaction(): boolean {
    return this.root.trxPromise !== undefined;
  }

  /**
   * Runs one unit of work, so a failed one leaves nothing half-written. Inside a root mutation
   * field the field's transaction is the unit (a failure rolls the whole field back); a unit inside
   * a unit, or one outside any field (webhook events, jobs), runs in a savepoint, so a caller can
   * recover from its failure. Code inside asking `trx()` gets the unit's transaction.
   */
  async unitOfWork<T>(fn: (trx: Knex.Transaction) => PromiseLike<T> | T): Promise<T> {
    const store = currentScope.getStore();
    const mine = store && store.ctx === this ? store : undefined;
    if (mine?.unit) {
      return this.droppingHooksOnFailure(() =>
        savepoint(mine.unit!, (inner) =>
          currentScope.run({ ...mine, unit: inner }, () => fn(inner)),
        ),
      );
    }
    const field = mine?.field && !mine.field.done ? mine.field : undefined;
    if (field) {
      const trx = await this.open(field);
      try {
        return await currentScope.run({ ctx: this, field, unit: trx }, () => fn(trx));
      } catch (err) {
        field.failure ??= { error: err };
        throw err;
      }
    }
    const parent = await this.trx();
    return this.droppingHooksOnFailure(() =>
      savepoint(parent, (inner) =>
        currentScope.run({ ctx: this, field: mine?.field, unit: inner }, () => fn(inner)),
      ),
    );
  }

  /** A savepoint rolled back: the after-commit hooks registered inside it are dropped too. */
  private async droppingHooksOnFailure<T>(fn: () => Promise<T>): Promise<T> {
    const scope = this.currentTxScope();
    const mark = scope.afterCommit?.length ?? 0;
    try {
      return await fn();
    } catch (err) {
      scope.afterCommit?.splice(mark);
      throw err;
    }
  }

  /**
   * Runs one root mutation field in a transaction of its own and commits it before returning the
   * field's value, so a later field's failure cannot take it back and the answer never reports
   * work that was not committed. A failure (of the field, of a unit of work in it, or of the
   * COMMIT) rolls back this field only and is thrown, to be reported on the field. The request's
   * read transaction, if a previous field's payload opened one, is ended first: a request holds
   * one connection at a time.
   */
  async inFieldTransaction<T>(fn: () => PromiseLike<T> | T): Promise<T> {
    await this.endRoot();
    const field: TxScope = { readOnly: false, done: false };
    let result: T;
    try {
      result = await currentScope.run({ ctx: this, field }, fn);
      if (field.failure) throw field.failure.error;
    } catch (err) {
      await this.endField(field, false).catch((rollbackError: unknown) =>
        this.deps.logger.error(
          { err: rollbackError, requestId: this.requestId },
          'rollback of a mutation field failed',
        ),
      );
      // Rows read or primed in the rolled back transaction must not be served later.
      this.cache.clear();
      throw err;
    }
    try {
      await this.endField(field, true);
    } catch (err) {
      this.cache.clear();
      throw err;
    }
    return result;
  }

  private async endField(field: TxScope, commit: boolean): Promise<void> {
    field.done = true;
    if (!commit) field.afterCommit = undefined;
    if (!field.trxPromise) {
      if (commit) this.runAfterCommit(field);
      return;
    }
    let trx: Knex.Transaction;
    try {
      trx = await field.trxPromise;
    } catch (err) {
      field.afterCommit = undefined;
      if (commit) throw err;
      return;
    }
    if (commit) {
      if (trx.isCompleted()) {
        field.afterCommit = undefined;
        throw new CommitFailedError();
      }
      try {
        await commitTransaction(trx);
      } catch (err) {
        field.afterCommit = undefined;
        throw err;
      }
      this.runAfterCommit(field);
    } else if (!trx.isCompleted()) {
      await trx.rollback();
    }
  }

  /** Commits the request's transaction, if open, so the next use opens a fresh one. */
  private async endRoot(): Promise<void> {
    const root = this.root;
    if (!root.trxPromise || root.done) return;
    root.done = true;
    let trx: Knex.Transaction;
    try {
      trx = await root.trxPromise;
    } catch {
      return;
    }
    if (!trx.isCompleted()) {
      try {
        await commitTransaction(trx);
      } catch (err) {
        root.afterCommit = undefined;
        throw err;
      }
      this.runAfterCommit(root);
    }
  }

  /**
   * Commits (ok) or rolls back the request's transaction, if one was opened; a commit that did not
   * commit throws. Idempotent.
   */
  async finish(ok: boolean): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    const root = this.root;
    if (!ok) root.afterCommit = undefined;
    if (!root.trxPromise || root.done) {
      if (ok) this.runAfterCommit(root);
      return;
    }
    root.done = true;
    let trx: Knex.Transaction;
    try {
      trx = await root.trxPromise;
    } catch {
      root.afterCommit = undefined;
      return;
    }
    if (trx.isCompleted()) {
      root.afterCommit = undefined;
      if (ok) throw new CommitFailedError();
      return;
    }
    if (ok) {
      try {
        await commitTransaction(trx);
      } catch (err) {
        root.afterCommit = undefined;
        throw err;
      }
      this.runAfterCommit(root);
    } else await trx.rollback();
  }

  /**
   * Runs `fn` once the transaction of the code running now has committed: the mutation field's or
   * the request's (a webhook event, a job). Work that rolls back (the field, the request, or the
   * unit of work that registered it) never runs it. For effects that must only follow committed
   * work, like the live events that subscriptions deliver.
   */
  afterCommit(fn: () => void): void {
    const scope = this.currentTxScope();
    (scope.afterCommit ??= []).push(fn);
  }

  private currentTxScope(): TxScope {
    const store = currentScope.getStore();
    if (store && store.ctx === this && store.field && !store.field.done) return store.field;
    return this.root;
  }

  private runAfterCommit(scope: TxScope): void {
    const hooks = scope.afterCommit;
    scope.afterCommit = undefined;
    for (const fn of hooks ?? []) {
      try {
        fn();
      } catch (err) {
        this.deps.logger.error({ err, requestId: this.requestId }, 'after-commit hook failed');
      }
    }
  }

  /** Writes an activity log entry in the request's tenant transaction. */
  async audit(entry: {
    action: AuditAction;
    subjectType?: SubjectType;
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
    const live = liveEventOfAudit(entry.action, entry.subjectType, entry.subjectId);
    if (live && this.companyId) this.publishAfterCommit(live);
  }

  /**
   * Publishes a change to the subscribers of its company once the current transaction committed
   * (never for rolled back work). Ids only: each subscriber reloads the object in its own context.
   */
  publishAfterCommit(change: {
    kind: LiveKind;
    action: string;
    id: string;
    staffId?: string | null;
  }): void {
    const companyId = this.requireCompanyId();
    const { live, logger } = this.deps;
    if (!live) return;
    this.afterCommit(() => {
      const at = Date.now();
      // One after the other, so subscribers receive a context's changes in the order they happened.
      this.publishing = this.publishing
        .then(() => live.publish({ ...change, companyId, at }))
        .catch((err: unknown) => logger.warn({ err }, 'live event not published'));
    });
  }
}

/** The live event an activity log entry stands for, if any. */
function liveEventOfAudit(
  action: string,
  subjectType: string | undefined,
  subjectId: string | null | undefined,
): { kind: LiveKind; action: string; id: string; staffId?: string | null } | undefined {
  if (!subjectId) return undefined;
  const verb = action.slice(action.indexOf('.') + 1);
  // Only the change itself ("appointment.cancelled"), not entries about it
  // ("scheduling.rule_overridden" on an appointment). No staff id from the details: the reload
  // decides who sees the appointment.
  if (subjectType === 'appointment' && action.startsWith('appointment.')) {
    const mapped: Record<string, string> = {
      booked: 'CREATED',
      created: 'CREATED',
      rescheduled: 'RESCHEDULED',
      cancelled: 'CANCELLED',
    };
    return {
      kind: 'appointment',
      action: mapped[verb] ?? 'STATUS_CHANGED',
      id: subjectId,
    };
  }
  if (subjectType === 'callback_request' && action.startsWith('callback_request.')) {
    return {
      kind: 'callback',
      action:
        verb
          .toUpperCase()
          .replace(/[^A-Z_]/g, '_')
          .slice(0, 40) || 'CHANGED',
      id: subjectId,
    };
  }
  return undefined;
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
