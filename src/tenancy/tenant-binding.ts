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
