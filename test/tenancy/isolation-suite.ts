import type { Knex } from 'knex';
import type { Database } from '../../src/db/database';
import { RUNTIME_ROLE } from '../../src/db/schema-helpers';
import { CrossTenantError, TenantContextMissingError } from '../../src/errors/app-error';
import { setTenantFilterEnabled } from '../../src/tenancy/switches';
import { bindTenant, inTenantTransaction } from '../../src/tenancy/tenant-binding';
import {
  createTenantFixtures,
  referencingColumn,
  snapshotCompany,
  tenantReferences,
  toModelInput,
  type TenantFixtures,
  type TenantModelClass,
} from '../helpers/tenant-fixtures';

/**
 * The tenant isolation proof, written once against a `Database` so it runs on Postgres and on
 * embedded PGlite alike. Companies A and B each own one row in every tenant table; acting as A,
 * nothing of B's can be read, changed, deleted or pointed at, first through the models with the
 * application filter on, then with the filter off (row level security alone), then with raw SQL.
 * Each check collects its failures per table so one run names every table that leaks.
 */
export interface IsolationEnv {
  db: Database;
  /** Runs set-up work as the schema owner, which bypasses row level security. */
  asOwner<T>(fn: (owner: Knex) => Promise<T>): Promise<T>;
  /** A database handle whose pool holds exactly one connection. */
  singleConnection(): Promise<{ db: Database; close(): Promise<void> }>;
}

interface PgErrorFields {
  code?: string;
  constraint?: string;
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

async function outcome<T>(work: PromiseLike<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await work };
  } catch (error) {
    return { ok: false, error };
  }
}

/** The Postgres fields of a driver error, also when objection wrapped it. */
function pgFields(error: unknown): PgErrorFields {
  const e = error as { nativeError?: PgErrorFields } & PgErrorFields;
  return e?.nativeError ?? e ?? {};
}

function describeOutcome(o: Outcome<unknown>): string {
  if (o.ok) return `succeeded with ${JSON.stringify(o.value)?.slice(0, 300)}`;
  const f = pgFields(o.error);
  return `failed with ${f.code ?? ''} ${f.constraint ?? ''} ${(o.error as Error)?.message ?? String(o.error)}`;
}

/**
 * The row count of an update or delete. knex-pglite answers a delete with the driver's result
 * object (its command reads DEL, which knex does not recognise) instead of the count.
 */
function affectedRows(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  const rowCount = (value as { rowCount?: unknown } | null)?.rowCount;
  return typeof rowCount === 'number' ? rowCount : undefined;
}

class Rollback extends Error {}
const ROLLBACK = new Rollback('rolled back on purpose');

/** Runs `fn` in a transaction (bound to `companyId` unless null) that is always rolled back. */
async function rolledBack<T>(
  knex: Knex,
  companyId: string | null,
  fn: (trx: Knex.Transaction) => Promise<T>,
): Promise<T> {
  let result: T | undefined;
  try {
    await knex.transaction(async (trx) => {
      if (companyId) await bindTenant(trx, companyId);
      result = await fn(trx);
      throw ROLLBACK;
    });
  } catch (err) {
    if (err !== ROLLBACK) throw err;
  }
  return result as T;
}

async function countRows(q: Knex | Knex.Transaction, table: string): Promise<number> {
  const { rows } = await q.raw<{ rows: { n: number }[] }>('select count(*)::int as n from ??', [
    table,
  ]);
  return rows[0].n;
}

async function withFilterOff<T>(fn: () => Promise<T>): Promise<T> {
  setTenantFilterEnabled(false);
  try {
    return await fn();
  } finally {
    setTenantFilterEnabled(true);
  }
}

const LONG_AGO = new Date('2001-02-03T04:05:06Z');

export function defineIsolationSuite(setup: () => Promise<IsolationEnv>): void {
  let env: IsolationEnv;
  let fx: TenantFixtures;
  let initialB: Record<string, unknown[]>;
  let initialA: Record<string, unknown[]>;
  let canUpdate: Set<string>;
  let canDelete: Set<string>;
  let canInsert: Set<string>;
  let seq = 0;
  const next = () => ++seq;

  const tables = () => fx.catalog.tenantTables;
  const model = (table: string): TenantModelClass => fx.models.get(table)!;
  const bId = (table: string) => fx.b.rows.get(table)!;
  const aId = (table: string) => fx.a.rows.get(table)!;
  const A = () => fx.a.companyId;
  const B = () => fx.b.companyId;

  /** B's rows and A's rows are exactly as the fixtures left them. */
  async function expectFixturesIntact(): Promise<void> {
    const [b, a] = await env.asOwner(async (owner) => [
      await snapshotCompany(owner, fx.catalog, B()),
      await snapshotCompany(owner, fx.catalog, A()),
    ]);
    expect(b).toEqual(initialB);
    expect(a).toEqual(initialA);
  }

  /** A write that must change nothing: 0 rows, or permission denied where not granted. */
  function checkNoEffect(
    problems: string[],
    what: string,
    granted: boolean,
    result: Outcome<unknown>,
  ): void {
    if (granted) {
      if (!result.ok || affectedRows(result.value) !== 0) {
        problems.push(`${what} ${describeOutcome(result)}`);
      }
    } else if (result.ok || pgFields(result.error).code !== '42501') {
      problems.push(`${what} (not granted) ${describeOutcome(result)}`);
    }
  }

  function expectForeignKeyViolation(
    problems: string[],
    what: string,
    constraint: string,
    result: Outcome<unknown>,
  ): void {
    const f = result.ok ? {} : pgFields(result.error);
    if (result.ok || f.code !== '23503' || f.constraint !== constraint) {
      problems.push(`${what}: expected 23503 on ${constraint}, ${describeOutcome(result)}`);
    }
  }

  beforeAll(async () => {
    env = await setup();
    fx = await env.asOwner((owner) => createTenantFixtures(owner));
    const privileges = await env.asOwner(async (owner) => {
      const { rows } = await owner.raw<{
        rows: { table: string; can_update: boolean; can_delete: boolean; can_insert: boolean }[];
      }>(
        `select t as table,
                has_table_privilege(?, format('public.%I', t), 'UPDATE') as can_update,
                has_table_privilege(?, format('public.%I', t), 'DELETE') as can_delete,
                has_table_privilege(?, format('public.%I', t), 'INSERT') as can_insert
           from unnest(?::text[]) t`,
        [RUNTIME_ROLE, RUNTIME_ROLE, RUNTIME_ROLE, fx.catalog.tenantTables],
      );
      return rows;
    });
    canUpdate = new Set(privileges.filter((p) => p.can_update).map((p) => p.table));
    canDelete = new Set(privileges.filter((p) => p.can_delete).map((p) => p.table));
    canInsert = new Set(privileges.filter((p) => p.can_insert).map((p) => p.table));
    initialB = await env.asOwner((owner) => snapshotCompany(owner, fx.catalog, B()));
    initialA = await env.asOwner((owner) => snapshotCompany(owner, fx.catalog, A()));
  });

  test('an unset tenant setting sees no rows and raises no cast error', async () => {
    const single = await env.singleConnection();
    try {
      const knex = single.db.knex;
      const setting = await knex.raw<{ rows: { value: string | null; role: string }[] }>(
        `select current_setting('app.company_id', true) as value, current_user as role`,
      );
      expect(setting.rows[0].role).toBe(RUNTIME_ROLE);
      expect([null, '']).toContain(setting.rows[0].value);
      for (const table of [...tables(), 'companies']) {
        const n = await countRows(knex, table);
        expect({ table, n }).toEqual({ table, n: 0 });
      }
      // An explicitly empty setting is what a pooled connection shows after a tenant transaction.
      await rolledBack(knex, null, async (trx) => {
        await trx.raw(`select set_config('app.company_id', '', true)`);
        for (const table of [...tables(), 'companies']) {
          const n = await countRows(trx, table);
          expect({ table, n }).toEqual({ table, n: 0 });
        }
      });
    } finally {
      await single.close();
    }
  });

  test('every tenant table has a model and one fixture row for each company', async () => {
    expect(tables().length).toBeGreaterThanOrEqual(20);
    const counts = await env.asOwner(async (owner) => {
      const out: Record<string, number[]> = {};
      for (const table of tables()) {
        const r = await owner.raw<{ rows: { a: string | number; b: string | number }[] }>(
          `select count(*) filter (where company_id = ?) as a, count(*) filter (where company_id = ?) as b from ??`,
          [A(), B(), table],
        );
        out[table] = [Number(r.rows[0].a), Number(r.rows[0].b)];
      }
      return out;
    });
    for (const table of tables()) {
      expect({ table, counts: counts[table], model: model(table)?.tableName }).toEqual({
        table,
        counts: [1, 1],
        model: table,
      });
    }
  });

  /**
   * Inserts a row of A through the model in a transaction that is rolled back. A's fixture row is
   * removed first where nothing depends on it, so a table that is unique per parent
   * (user_preferences, staff_services) has room for the new row.
   */
  async function insertOwn(
    table: string,
    input: Record<string, unknown>,
  ): Promise<Outcome<{ companyId: string }>> {
    return rolledBack(env.db.knex, A(), async (trx) => {
      if (canDelete.has(table)) {
        await trx
          .transaction((sp) =>
            sp(table)
              .where({ id: aId(table) })
              .del(),
          )
          .catch(() => undefined);
      }
      return outcome(model(table).query(trx).insert(input));
    });
  }

  async function checkModelReads(): Promise<string[]> {
    const problems: string[] = [];
    for (const table of tables()) {
      const M = model(table);
      await rolledBack(env.db.knex, A(), async (trx) => {
        if (await M.query(trx).findById(bId(table)))
          problems.push(`${table}: findById(B) found it`);
        const own = await M.query(trx).findById(aId(table));
        if (!own) problems.push(`${table}: findById(A) did not find A's own row`);
        const byWhere = await M.query(trx).whereIn('id', [aId(table), bId(table)]);
        const ids = byWhere.map((r) => r.id);
        if (ids.length !== 1 || ids[0] !== aId(table)) {
          problems.push(`${table}: where id in (A, B) gave ${JSON.stringify(ids)}`);
        }
        const total = await M.query(trx).resultSize();
        if (total !== 1) problems.push(`${table}: count is ${total}, expected A's 1 row`);
        const ofB = await M.query(trx).where('id', bId(table)).resultSize();
        if (ofB !== 0) problems.push(`${table}: count where id = B is ${ofB}`);
        const byCompany = await M.query(trx).where(`${table}.company_id`, B()).resultSize();
        if (byCompany !== 0) problems.push(`${table}: count where company_id = B is ${byCompany}`);
      });
    }
    return problems;
  }

  async function checkModelWrites(): Promise<string[]> {
    const problems: string[] = [];
    for (const table of tables()) {
      const M = model(table);
      const updated = await outcome(
        inTenantTransaction(env.db.knex, A(), (trx) =>
          M.query(trx).patch({ updatedAt: LONG_AGO }).where('id', bId(table)),
        ),
      );
      checkNoEffect(problems, `${table}: patch where id = B`, canUpdate.has(table), updated);
      const updatedById = await outcome(
        inTenantTransaction(env.db.knex, A(), (trx) =>
          M.query(trx).findById(bId(table)).patch({ updatedAt: LONG_AGO }),
        ),
      );
      checkNoEffect(problems, `${table}: findById(B).patch`, canUpdate.has(table), updatedById);
      if (canUpdate.has(table)) {
        const own = await rolledBack(env.db.knex, A(), (trx) =>
          outcome(M.query(trx).findById(aId(table)).patch({ updatedAt: LONG_AGO })),
        );
        if (!own.ok || affectedRows(own.value) !== 1)
          problems.push(`${table}: patching A's own row ${describeOutcome(own)}`);
      }
      const deleted = await outcome(
        inTenantTransaction(env.db.knex, A(), (trx) => M.query(trx).deleteById(bId(table))),
      );
      checkNoEffect(problems, `${table}: deleteById(B)`, canDelete.has(table), deleted);
      const deletedWhere = await outcome(
        inTenantTransaction(env.db.knex, A(), (trx) =>
          M.query(trx).delete().where('id', bId(table)),
        ),
      );
      checkNoEffect(problems, `${table}: delete where id = B`, canDelete.has(table), deletedWhere);
    }
    return problems;
  }

  async function checkModelReferences(): Promise<string[]> {
    const problems: string[] = [];
    const references = tenantReferences(fx.catalog);
    expect(references.length).toBeGreaterThan(20);
    for (const fk of references) {
      const column = referencingColumn(fk);
      const row = fx.buildRow(fk.table, fx.a, next(), { [column]: bId(fk.refTable) });
      delete row.company_id;
      const M = model(fk.table);
      const result = await rolledBack(env.db.knex, A(), (trx) =>
        outcome(M.query(trx).insert(toModelInput(M, row))),
      );
      expectForeignKeyViolation(
        problems,
        `${fk.table}.${column} -> B's ${fk.refTable}`,
        fk.name,
        result,
      );
    }
    return problems;
  }

  test("as A, the models cannot read B's rows in any tenant table", async () => {
    expect(await checkModelReads()).toEqual([]);
  });

  test("as A, the models cannot update or delete B's rows in any tenant table", async () => {
    expect(await checkModelWrites()).toEqual([]);
    await expectFixturesIntact();
  });

  test("as A, a new row cannot reference B's row through any tenant foreign key", async () => {
    expect(await checkModelReferences()).toEqual([]);
    await expectFixturesIntact();
  });

  describe('with the application filter switched off (row level security alone)', () => {
    test("the models still cannot read B's rows", async () => {
      expect(await withFilterOff(checkModelReads)).toEqual([]);
    });

    test("the models still cannot update or delete B's rows", async () => {
      expect(await withFilterOff(checkModelWrites)).toEqual([]);
      await expectFixturesIntact();
    });

    test("the models still cannot reference B's rows", async () => {
      expect(await withFilterOff(checkModelReferences)).toEqual([]);
      await expectFixturesIntact();
    });

    test("raw queries in A's transaction cannot read, change, delete, create or reference B's rows", async () => {
      const problems: string[] = [];
      await withFilterOff(async () => {
        for (const table of tables()) {
          await rolledBack(env.db.knex, A(), async (trx) => {
            const found: unknown[] = await trx(table).where({ id: bId(table) });
            if (found.length !== 0) problems.push(`${table}: select where id = B found it`);
            const n = await countRows(trx, table);
            if (n !== 1) problems.push(`${table}: count(*) is ${n}, expected A's 1 row`);
            const ofB: unknown[] = await trx(table).where({ company_id: B() });
            if (ofB.length !== 0) problems.push(`${table}: select where company_id = B found rows`);
          });
          const updated = await outcome(
            inTenantTransaction(env.db.knex, A(), (trx) =>
              trx(table)
                .where({ id: bId(table) })
                .update({ updated_at: LONG_AGO }),
            ),
          );
          checkNoEffect(problems, `${table}: raw update of B`, canUpdate.has(table), updated);
          const updatedAll = await outcome(
            inTenantTransaction(env.db.knex, A(), (trx) =>
              trx(table).where({ company_id: B() }).update({ updated_at: LONG_AGO }),
            ),
          );
          checkNoEffect(
            problems,
            `${table}: raw update where company_id = B`,
            canUpdate.has(table),
            updatedAll,
          );
          const deleted = await outcome(
            inTenantTransaction(env.db.knex, A(), (trx) =>
              trx(table).where({ company_id: B() }).del(),
            ),
          );
          checkNoEffect(
            problems,
            `${table}: raw delete where company_id = B`,
            canDelete.has(table),
            deleted,
          );
          if (canInsert.has(table)) {
            const row = fx.buildRow(table, fx.b, next());
            const inserted = await rolledBack(env.db.knex, A(), (trx) =>
              outcome(trx(table).insert(row)),
            );
            const code = inserted.ok ? undefined : pgFields(inserted.error).code;
            if (code !== '42501') {
              problems.push(`${table}: raw insert of a row of B ${describeOutcome(inserted)}`);
            }
          }
        }
        for (const fk of tenantReferences(fx.catalog)) {
          const column = referencingColumn(fk);
          const row = fx.buildRow(fk.table, fx.a, next(), { [column]: bId(fk.refTable) });
          const result = await rolledBack(env.db.knex, A(), (trx) =>
            outcome(trx(fk.table).insert(row)),
          );
          expectForeignKeyViolation(
            problems,
            `raw ${fk.table}.${column} -> B's ${fk.refTable}`,
            fk.name,
            result,
          );
        }
      });
      expect(problems).toEqual([]);
      await expectFixturesIntact();
    });
  });

  test('a model query without a tenant context throws before any SQL is sent', async () => {
    const sent: string[] = [];
    const listener = (q: { sql: string }) => sent.push(q.sql);
    env.db.knex.on('query', listener);
    const problems: string[] = [];
    const expectMissing = (what: string, result: Outcome<unknown>) => {
      if (result.ok || !(result.error instanceof TenantContextMissingError)) {
        problems.push(`${what} ${describeOutcome(result)}`);
      }
    };
    try {
      for (const table of tables()) {
        const M = model(table);
        const row = toModelInput(M, fx.buildRow(table, fx.a, next()));
        delete row.companyId;
        expectMissing(`${table}: select`, await outcome(M.query(env.db.knex)));
        expectMissing(
          `${table}: findById`,
          await outcome(M.query(env.db.knex).findById(aId(table))),
        );
        expectMissing(`${table}: insert`, await outcome(M.query(env.db.knex).insert(row)));
        expectMissing(
          `${table}: patch`,
          await outcome(M.query(env.db.knex).patch({ updatedAt: LONG_AGO })),
        );
        expectMissing(`${table}: delete`, await outcome(M.query(env.db.knex).delete()));
      }
      expect(sent).toEqual([]);
      // A transaction that was never bound to a company is no tenant context either.
      for (const table of tables()) {
        const M = model(table);
        const result = await rolledBack(env.db.knex, null, (trx) => outcome(M.query(trx)));
        expectMissing(`${table}: select in an unbound transaction`, result);
      }
      expect(sent.filter((sql) => !/^(begin|commit|rollback)/i.test(sql.trim()))).toEqual([]);
    } finally {
      env.db.knex.removeListener('query', listener);
    }
    expect(problems).toEqual([]);
  });

  test('an insert or update naming another company is refused before SQL is sent', async () => {
    const problems: string[] = [];
    for (const table of tables()) {
      const M = model(table);
      await rolledBack(env.db.knex, A(), async (trx) => {
        const sent: string[] = [];
        const listener = (q: { sql: string }) => sent.push(q.sql);
        env.db.knex.on('query', listener);
        try {
          const foreign = { ...toModelInput(M, fx.buildRow(table, fx.a, next())), companyId: B() };
          const inserted = await outcome(M.query(trx).insert(foreign));
          if (inserted.ok || !(inserted.error instanceof CrossTenantError)) {
            problems.push(`${table}: insert naming B ${describeOutcome(inserted)}`);
          }
          const patched = await outcome(
            M.query(trx).findById(aId(table)).patch({ companyId: B() }),
          );
          if (patched.ok || !(patched.error instanceof CrossTenantError)) {
            problems.push(`${table}: patch naming B ${describeOutcome(patched)}`);
          }
          if (sent.length > 0) problems.push(`${table}: SQL was sent: ${sent.join('; ')}`);
        } finally {
          env.db.knex.removeListener('query', listener);
        }
      });
      if (canInsert.has(table)) {
        // Naming the transaction's own company is fine, and the model stamps it when omitted.
        const named = await insertOwn(table, toModelInput(M, fx.buildRow(table, fx.a, next())));
        if (!named.ok || named.value.companyId !== A()) {
          problems.push(`${table}: insert naming A ${describeOutcome(named)}`);
        }
        const stamped = await insertOwn(
          table,
          toModelInput(M, withoutCompany(fx.buildRow(table, fx.a, next()))),
        );
        if (!stamped.ok || stamped.value.companyId !== A()) {
          problems.push(`${table}: insert without company_id ${describeOutcome(stamped)}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  test('a raw insert of a NULL or foreign company_id by the runtime role fails', async () => {
    const problems: string[] = [];
    for (const table of tables().filter((t) => canInsert.has(t))) {
      const withNull = await rolledBack(env.db.knex, A(), (trx) =>
        outcome(trx(table).insert({ ...fx.buildRow(table, fx.a, next()), company_id: null })),
      );
      const nullCode = withNull.ok ? undefined : pgFields(withNull.error).code;
      if (nullCode !== '23502' && nullCode !== '42501') {
        problems.push(`${table}: insert with NULL company_id ${describeOutcome(withNull)}`);
      }
      const foreign = await rolledBack(env.db.knex, A(), (trx) =>
        outcome(trx(table).insert({ ...fx.buildRow(table, fx.a, next()), company_id: B() })),
      );
      if (foreign.ok || pgFields(foreign.error).code !== '42501') {
        problems.push(`${table}: insert with B's company_id as A ${describeOutcome(foreign)}`);
      }
      // Without any tenant set, not even the row's own company is accepted.
      const unset = await rolledBack(env.db.knex, null, (trx) =>
        outcome(trx(table).insert(fx.buildRow(table, fx.a, next()))),
      );
      if (unset.ok || pgFields(unset.error).code !== '42501') {
        problems.push(`${table}: insert without a tenant ${describeOutcome(unset)}`);
      }
    }
    expect(problems).toEqual([]);
    // Companies and platform admins are not the runtime role's to create.
    const platformRows: Record<string, Record<string, unknown>> = {
      companies: { name: 'Sneaky', slug: 'sneaky-co' },
      platform_admins: { email: 'sneaky@platform.test', name: 'Sneaky', password_hash: 'x' },
    };
    for (const [table, row] of Object.entries(platformRows)) {
      const result = await rolledBack(env.db.knex, A(), (trx) => outcome(trx(table).insert(row)));
      expect({ table, code: result.ok ? 'inserted' : pgFields(result.error).code }).toEqual({
        table,
        code: '42501',
      });
    }
  });

  test('the tenant setting does not outlive its transaction on a pooled connection', async () => {
    const single = await env.singleConnection();
    try {
      const knex = single.db.knex;
      const state = async (q: Knex | Knex.Transaction) => {
        const r = await q.raw<{
          rows: { pid: number; tenant: string | null; customers: number }[];
        }>(
          `select pg_backend_pid() as pid, current_setting('app.company_id', true) as tenant,
                  (select count(*) from customers)::int as customers`,
        );
        return r.rows[0];
      };
      const inA = await inTenantTransaction(knex, A(), (trx) => state(trx));
      expect(inA).toMatchObject({ tenant: A(), customers: 1 });
      const after = await state(knex);
      expect(after.pid).toBe(inA.pid);
      expect([null, '']).toContain(after.tenant);
      expect(after.customers).toBe(0);

      // Also after a transaction that failed and rolled back.
      await expect(
        inTenantTransaction(knex, A(), async () => {
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      const afterRollback = await state(knex);
      expect(afterRollback.pid).toBe(inA.pid);
      expect(afterRollback.customers).toBe(0);

      // The next tenant on the same connection sees only its own rows.
      const inB = await inTenantTransaction(knex, B(), async (trx) => ({
        ...(await state(trx)),
        ids: (await model('customers').query(trx)).map((c) => c.id),
      }));
      expect(inB.pid).toBe(inA.pid);
      expect(inB.ids).toEqual([bId('customers')]);
    } finally {
      await single.close();
    }
  });
}

function withoutCompany(row: Record<string, unknown>): Record<string, unknown> {
  const { company_id: _dropped, ...rest } = row;
  return rest;
}
