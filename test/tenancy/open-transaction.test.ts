import { randomUUID } from 'node:crypto';
import { openDatabase, type Database } from '../../src/db/database';
import {
  openTransaction,
  openTransactionReading,
  tenantOf,
} from '../../src/tenancy/tenant-binding';
import { createTestDatabase, type TestDatabase } from '../helpers/pg';

/**
 * A request's transaction opens in one round trip: `BEGIN [READ ONLY]; select set_config(...)`
 * (and, for a query, the session check) as one simple query. The tenant and the statement timeout
 * hold for that transaction only, a failing setup leaves nothing open on the pooled connection,
 * and only validated values reach the statement's text.
 */
let t: TestDatabase;
/** A pool of ONE connection, so every transaction reuses the connection of the one before. */
let db: Database;
const A = randomUUID();
const B = randomUUID();

beforeAll(async () => {
  t = await createTestDatabase();
  await t.superuser('companies').insert([
    { id: A, name: 'A', slug: `a-${A.slice(0, 8)}` },
    { id: B, name: 'B', slug: `b-${B.slice(0, 8)}` },
  ]);
  db = await openDatabase({ url: t.url, poolMax: 1 });
});
afterAll(async () => {
  await db?.close();
  await t?.drop();
});

const options = (companyId: string | null, readOnly = true) => ({
  companyId,
  readOnly,
  statementTimeoutMs: 1234,
  multiStatement: true,
});

async function settings(trx: import('knex').Knex.Transaction) {
  const { rows } = (await trx.raw(
    `select current_setting('app.company_id', true) as company,
            current_setting('statement_timeout') as timeout,
            current_setting('transaction_read_only') as ro`,
  )) as { rows: { company: string | null; timeout: string; ro: string }[] };
  return rows[0];
}

test('one statement opens, binds and sets the timeout; nothing outlives the transaction', async () => {
  const statements: string[] = [];
  const onQuery = (q: { sql: string }) => statements.push(q.sql);
  db.knex.on('query', onQuery);
  let trx;
  try {
    trx = await openTransaction(db.knex, options(A));
  } finally {
    db.knex.off('query', onQuery);
  }
  expect(statements).toEqual([
    `BEGIN TRANSACTION READ ONLY; select set_config('app.company_id', '${A}', true), set_config('statement_timeout', '1234ms', true);`,
  ]);
  expect(tenantOf(trx)).toEqual({ companyId: A });
  expect(await settings(trx)).toEqual({ company: A, timeout: '1234ms', ro: 'on' });
  // Row level security sees the bound company only.
  expect((await trx('companies').select('id')).map((r: { id: string }) => r.id)).toEqual([A]);
  await trx.commit();

  // The next transaction on the same (only) connection starts clean.
  const plain = await db.knex.transaction();
  const after = await settings(plain);
  expect(after.company ?? '').toBe('');
  expect(after.timeout).not.toBe('1234ms');
  expect(after.ro).toBe('off');
  await plain.commit();
});

test('a read-write transaction, and one with no tenant but a timeout', async () => {
  const rw = await openTransaction(db.knex, options(B, false));
  expect(await settings(rw)).toEqual({ company: B, timeout: '1234ms', ro: 'off' });
  await rw.rollback();
  const platform = await openTransaction(db.knex, options(null));
  expect(tenantOf(platform)).toBeUndefined();
  expect((await settings(platform)).timeout).toBe('1234ms');
  await platform.commit();
});

test('the first query travels in the same round trip and its rows come back', async () => {
  const statements: string[] = [];
  const onQuery = (q: { sql: string }) => statements.push(q.sql);
  db.knex.on('query', onQuery);
  try {
    const { trx, rows } = await openTransactionReading<{ id: string; company: string }>(
      db.knex,
      options(A),
      `select c.id, current_setting('app.company_id') as company from companies c`,
    );
    expect(rows).toEqual([{ id: A, company: A }]);
    await trx.commit();
  } finally {
    db.knex.off('query', onQuery);
  }
  expect(statements).toHaveLength(2);
  expect(statements[0]).toMatch(/^BEGIN TRANSACTION READ ONLY; select set_config.*; select c\.id/s);
  expect(statements[1]).toMatch(/^COMMIT/);
});

test('a failing first query rolls back: the pooled connection is not left in a transaction', async () => {
  await expect(openTransactionReading(db.knex, options(A), 'select 1 / 0')).rejects.toMatchObject({
    code: '22012',
  });
  // With one pooled connection, the next transaction would fail ("current transaction is
  // aborted") or inherit the tenant if the failed one had been left open.
  const trx = await openTransaction(db.knex, options(B));
  expect(await settings(trx)).toEqual({ company: B, timeout: '1234ms', ro: 'on' });
  await trx.commit();
});

test('only a UUID can be bound: anything else never reaches the statement', async () => {
  const statements: string[] = [];
  const onQuery = (q: { sql: string }) => statements.push(q.sql);
  db.knex.on('query', onQuery);
  try {
    await expect(
      openTransaction(db.knex, options(`${A}', true); drop table companies; --`)),
    ).rejects.toMatchObject({ code: 'INTERNAL' });
  } finally {
    db.knex.off('query', onQuery);
  }
  expect(statements).toEqual([]);
});

test('without multi-statement support (PGlite) it binds in a second statement', async () => {
  const statements: string[] = [];
  const onQuery = (q: { sql: string }) => statements.push(q.sql);
  db.knex.on('query', onQuery);
  try {
    const { trx, rows } = await openTransactionReading<{ n: number }>(
      db.knex,
      { ...options(A), multiStatement: false },
      'select 1 as n',
    );
    expect(rows).toEqual([{ n: 1 }]);
    expect(await settings(trx)).toEqual({ company: A, timeout: '1234ms', ro: 'on' });
    await trx.commit();
  } finally {
    db.knex.off('query', onQuery);
  }
  expect(statements[0]).toMatch(/^BEGIN TRANSACTION READ ONLY;$/);
  expect(statements[1]).toMatch(/^select set_config/);
});
