import { isUuid } from '../domain/ids';
import type { Knex } from 'knex';
import { AppError } from '../errors/app-error';

const TENANT = Symbol.for('app.tenantBinding');

/** The company a database transaction is bound to. */
export interface TenantBinding {
  readonly companyId: string;
}

type Bindable = { [TENANT]?: TenantBinding };

/** The tenant a knex transaction was opened for, or undefined for anything else. */
export function tenantOf(knex: unknown): TenantBinding | undefined {
  if (!knex || (typeof knex !== 'object' && typeof knex !== 'function')) return undefined;
  return (knex as Bindable)[TENANT];
}

/**
 * Binds an open transaction to a company: Postgres gets the tenant for row level security through
 * `set_config(..., true)` (transaction-local, so a pooled connection never carries it to the next
 * request), and the transaction object is marked so the tenant query builder can read it.
 */
export async function bindTenant(
  trx: Knex.Transaction,
  companyId: string,
  options: { statementTimeoutMs?: number } = {},
): Promise<void> {
  if (!isUuid(companyId)) {
    throw new AppError('INTERNAL', 'tenant binding needs a company id');
  }
  const timeout = options.statementTimeoutMs;
  if (timeout !== undefined && timeout > 0) {
    // The same statement sets the request's statement timeout, also transaction-local.
    await trx.raw(
      `select set_config('app.company_id', ?, true), set_config('statement_timeout', ?, true)`,
      [companyId, `${Math.floor(timeout)}ms`],
    );
  } else {
    await trx.raw(`select set_config('app.company_id', ?, true)`, [companyId]);
  }
  markTenant(trx, { companyId });
}

/** What a transaction is opened for: its tenant, whether it only reads, its statement timeout. */
export interface TransactionOptions {
  /** The company to bind to, or null for a transaction that binds itself later (`bindTenant`). */
  companyId: string | null;
  readOnly: boolean;
  /** Transaction-local statement timeout in milliseconds; none when absent or not positive. */
  statementTimeoutMs?: number;
  /**
   * Whether the driver sends a statement without parameters as a simple query, several statements
   * in one round trip (node-postgres; PGlite does not).
   */
  multiStatement: boolean;
}

interface PgTransactionInternals {
  begin(conn: unknown): Promise<unknown>;
  query(conn: unknown, sql: string, status?: number, value?: unknown): Promise<unknown>;
  trxClient: { query(conn: unknown, sql: string): Promise<unknown> };
  catch(onReject: (err: unknown) => void): Promise<unknown>;
}

interface KnexClientInternals {
  transaction(
    container: (trx: Knex.Transaction) => void,
    config: Record<string, unknown>,
  ): PgTransactionInternals;
}

/**
 * The statements that set up a transaction: the tenant and the statement timeout, both through
 * `set_config(..., true)`, so they end with the transaction. Values are literals here, since the
 * statement is sent together with BEGIN as one simple query (which takes no parameters): the
 * company id is a validated UUID and the timeout an integer, nothing else reaches the text.
 */
function setupStatement(companyId: string | null, statementTimeoutMs?: number): string | undefined {
  const settings: string[] = [];
  if (companyId !== null) {
    if (!isUuid(companyId)) throw new AppError('INTERNAL', 'tenant binding needs a company id');
    settings.push(`set_config('app.company_id', '${companyId.toLowerCase()}', true)`);
  }
  if (statementTimeoutMs !== undefined && statementTimeoutMs > 0) {
    const ms = Math.floor(statementTimeoutMs);
    if (!Number.isSafeInteger(ms)) throw new AppError('INTERNAL', 'bad statement timeout');
    settings.push(`set_config('statement_timeout', '${ms}ms', true)`);
  }
  return settings.length ? `select ${settings.join(', ')}` : undefined;
}

/**
 * Opens a transaction bound to its tenant in ONE round trip: on node-postgres, `BEGIN [READ ONLY];
 * select set_config(...)` goes to the server as a single simple query (fine behind PgBouncer in
 * transaction mode: nothing outlives the transaction). Should the setup fail after BEGIN, the
 * transaction is rolled back before its connection returns to the pool. Other clients (PGlite)
 * begin first and bind in a second statement. Either way the result is marked for the tenant query
 * builder, exactly as `bindTenant` marks it.
 */
export async function openTransaction(
  knex: Knex,
  options: TransactionOptions,
): Promise<Knex.Transaction> {
  return (await openTransactionReading(knex, options)).trx;
}

/**
 * `openTransaction`, with one more statement in the same round trip: `firstQuery`, a SELECT whose
 * text holds no outside input but validated UUIDs (a simple query takes no parameters). Its rows
 * are returned with the transaction, which is then bound and may be used or rolled back.
 */
export async function openTransactionReading<Row = Record<string, unknown>>(
  knex: Knex,
  options: TransactionOptions,
  firstQuery?: string,
): Promise<{ trx: Knex.Transaction; rows: Row[] }> {
  const { companyId, readOnly, statementTimeoutMs, multiStatement } = options;
  const setup = setupStatement(companyId, statementTimeoutMs);
  const bound = (trx: Knex.Transaction) => {
    if (companyId !== null) markTenant(trx, { companyId: companyId.toLowerCase() });
    return trx;
  };
  if (!multiStatement || (!setup && !firstQuery)) {
    const trx = await knex.transaction(readOnly ? { readOnly: true } : undefined);
    let rows: Row[] = [];
    try {
      if (setup) await trx.raw(setup);
      if (firstQuery) rows = ((await trx.raw(firstQuery)) as { rows: Row[] }).rows;
    } catch (err) {
      await trx.rollback().catch(() => undefined);
      throw err;
    }
    return { trx: bound(trx), rows };
  }
  const client = (knex as unknown as { client: KnexClientInternals }).client;
  const sql = [readOnly ? 'BEGIN TRANSACTION READ ONLY' : 'BEGIN', setup, firstQuery]
    .filter((statement) => statement !== undefined)
    .join('; ');
  let results: unknown;
  const trx = await new Promise<Knex.Transaction>((resolve, reject) => {
    // What `knex.transaction(config)` does, with knex's BEGIN replaced by the combined statement.
    const pending = client.transaction(resolve, {
      userParams: (knex as unknown as { userParams?: object }).userParams ?? {},
      doNotRejectOnRollback: true,
      readOnly,
    });
    pending.begin = (conn: unknown) =>
      pending.trxClient.query(conn, `${sql};`).then(
        (obj) => {
          results = (obj as { response?: unknown }).response;
        },
        // BEGIN may have run: roll back, and fail the transaction with the setup's error.
        (err: unknown) => pending.query(conn, 'ROLLBACK', 2, err),
      );
    pending.catch(reject);
  });
  if (trx.isCompleted()) {
    // The setup failed: knex hands over the transaction anyway; its execution holds the error.
    await (trx as unknown as { executionPromise?: Promise<unknown> }).executionPromise;
    throw new AppError('INTERNAL', 'the transaction could not be opened');
  }
  // node-postgres answers several statements with one result each; the last is `firstQuery`'s.
  const last = Array.isArray(results) ? (results.at(-1) as unknown) : results;
  const rows = firstQuery ? ((last as { rows?: Row[] } | undefined)?.rows ?? []) : [];
  return { trx: bound(trx), rows };
}

function markTenant(trx: Knex.Transaction, binding: TenantBinding): void {
  Object.defineProperty(trx, TENANT, { value: Object.freeze({ ...binding }), enumerable: false });
}

/** Runs `fn` in a new transaction bound to `companyId`; commits when it resolves. */
export async function inTenantTransaction<T>(
  knex: Knex,
  companyId: string,
  fn: (trx: Knex.Transaction) => PromiseLike<T> | T,
): Promise<T> {
  return knex.transaction(async (trx) => {
    await bindTenant(trx, companyId);
    return await fn(trx);
  });
}

/**
 * A savepoint inside a tenant transaction. Knex gives a nested transaction a new object, so the
 * binding is carried over here; the Postgres setting already holds for the whole transaction.
 */
export async function savepoint<T>(
  trx: Knex.Transaction,
  fn: (inner: Knex.Transaction) => PromiseLike<T> | T,
): Promise<T> {
  const binding = tenantOf(trx);
  return trx.transaction(async (inner) => {
    if (binding) markTenant(inner, binding);
    return await fn(inner);
  });
}
