import { readdirSync } from 'node:fs';
import path from 'node:path';
import type { Knex } from 'knex';
import { MIGRATIONS } from '../../src/db/migration-source';
import { RUNTIME_ROLE } from '../../src/db/schema-helpers';
import { createTestDatabase, type TestDatabase } from '../helpers/pg';
import { readCatalog, type Catalog, type IndexInfo } from '../helpers/tenant-fixtures';

/**
 * The tenancy invariants of the schema, read from pg_catalog for every table in schema public that
 * has a company_id column. Tables are discovered, not listed: a new table that breaks an invariant
 * fails here without anyone editing this file. Each test collects the offending tables so one run
 * names all of them.
 */
let t: TestDatabase;
let catalog: Catalog;

beforeAll(async () => {
  t = await createTestDatabase();
  catalog = await readCatalog(t.superuser);
});
afterAll(async () => t.drop());

async function rows<T>(knex: Knex, sql: string, bindings: readonly unknown[] = []): Promise<T[]> {
  return (await knex.raw<{ rows: T[] }>(sql, bindings as Knex.RawBinding[])).rows;
}

const tenantTables = () => catalog.tenantTables;
const isTenant = (table: string) => catalog.tenantTables.includes(table);

test('tenant tables are discovered from the catalog', () => {
  // The core tables the product cannot do without; anything else is found by the same query.
  for (const table of ['appointments', 'customers', 'calls', 'users', 'activity_logs']) {
    expect(tenantTables()).toContain(table);
  }
  expect(tenantTables().length).toBeGreaterThanOrEqual(20);
  expect(tenantTables()).not.toContain('companies');
});

test('invariant 1: company_id is NOT NULL and references companies(id)', () => {
  const problems: string[] = [];
  for (const table of tenantTables()) {
    const column = catalog.columns.get(table)!.find((c) => c.name === 'company_id')!;
    if (!column.notNull) problems.push(`${table}: company_id is nullable`);
    if (column.type !== 'uuid') problems.push(`${table}: company_id is ${column.type}`);
    const toCompanies = catalog.foreignKeys.filter(
      (fk) =>
        fk.table === table &&
        fk.refTable === 'companies' &&
        fk.columns.join() === 'company_id' &&
        fk.refColumns.join() === 'id',
    );
    if (toCompanies.length !== 1)
      problems.push(`${table}: no foreign key company_id -> companies(id)`);
  }
  expect(problems).toEqual([]);
});

test('invariant 3: row level security is enabled and forced on every tenant table', async () => {
  const flags = await rows<{ table: string; enabled: boolean; forced: boolean }>(
    t.superuser,
    `select c.relname::text as table, c.relrowsecurity as enabled, c.relforcerowsecurity as forced
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and c.relname = any(?)`,
    [[...tenantTables(), 'companies']],
  );
  const problems = flags
    .filter((f) => !f.enabled || !f.forced)
    .map((f) => `${f.table}: enabled=${f.enabled} forced=${f.forced}`);
  expect(flags).toHaveLength(tenantTables().length + 1);
  expect(problems).toEqual([]);
});

test('invariant 3: every policy on a tenant table compares company_id with app.company_id', async () => {
  const policies = await rows<{
    table: string;
    name: string;
    permissive: boolean;
    command: string;
    roles: string[];
    qual: string | null;
    with_check: string | null;
  }>(
    t.superuser,
    `select c.relname::text as table, p.polname::text as name, p.polpermissive as permissive,
            p.polcmd::text as command,
            array(select case when r = 0 then 'public' else r::regrole::text end
                    from unnest(p.polroles) r) as roles,
            pg_get_expr(p.polqual, p.polrelid) as qual,
            pg_get_expr(p.polwithcheck, p.polrelid) as with_check
       from pg_policy p join pg_class c on c.oid = p.polrelid
      where c.relname = any(?)`,
    [tenantTables()],
  );
  // Exactly `company_id = (select nullif(current_setting('app.company_id', true), ''))::uuid`, as
  // Postgres prints it back (its versions place the cast differently): unset or empty means no
  // rows, never a cast error, and nothing OR-ed to it can widen the match.
  const TENANT_COMPARISON =
    /^company_id=selectnullifcurrent_setting'app\.company_id'::text,true,''::text(::uuidasnullif|asnullif::uuid)$/;
  const boundToTenant = (sql: string | null) =>
    sql !== null && TENANT_COMPARISON.test(sql.toLowerCase().replace(/[\s()"]/g, ''));
  const problems: string[] = [];
  for (const table of tenantTables()) {
    const own = policies.filter((p) => p.table === table);
    const forAll = own.filter((p) => p.permissive && p.command === '*');
    if (forAll.length === 0) problems.push(`${table}: no permissive policy for all commands`);
    for (const p of own) {
      const reachesRuntime = p.roles.includes('public') || p.roles.includes(RUNTIME_ROLE);
      if (!reachesRuntime) continue;
      // Permissive policies are OR-ed: each one must be bound to the tenant, or it widens access.
      if (p.permissive && !boundToTenant(p.qual) && p.command !== 'a') {
        problems.push(`${table}.${p.name}: USING is not the tenant comparison: ${p.qual}`);
      }
      const check = p.with_check ?? p.qual;
      if (p.permissive && ['*', 'a', 'w'].includes(p.command) && !boundToTenant(check)) {
        problems.push(`${table}.${p.name}: WITH CHECK is not the tenant comparison: ${check}`);
      }
    }
  }
  expect(problems).toEqual([]);
});

test('invariant 2: the primary key is exactly (company_id, id)', () => {
  const problems: string[] = [];
  for (const table of tenantTables()) {
    const pk = catalog.indexes.filter((i) => i.table === table && i.primary);
    const keys = pk.map((i) => i.keys.join(', '));
    if (keys.length !== 1 || keys[0] !== 'company_id, id') {
      problems.push(`${table}: primary key (${keys.join(' | ')})`);
    }
  }
  expect(problems).toEqual([]);
});

test('invariant 2: every unique constraint, unique index and exclusion constraint includes company_id', () => {
  const problems: string[] = [];
  for (const index of catalog.indexes) {
    if (!isTenant(index.table) || !(index.unique || index.exclusion)) continue;
    if (!index.keys.includes('company_id')) {
      problems.push(`${index.table}.${index.name} (${index.keys.join(', ')})`);
    }
  }
  expect(problems).toEqual([]);
});

test('invariant 2: every foreign key to another tenant table is composite on company_id', () => {
  const problems: string[] = [];
  let checked = 0;
  for (const fk of catalog.foreignKeys) {
    if (!isTenant(fk.table) || !isTenant(fk.refTable)) continue;
    checked++;
    const at = fk.columns.indexOf('company_id');
    const pairsCompany = at >= 0 && fk.refColumns[at] === 'company_id';
    if (!pairsCompany || fk.columns.length < 2) {
      problems.push(
        `${fk.table}.${fk.name}: (${fk.columns.join(', ')}) -> ${fk.refTable}(${fk.refColumns.join(', ')})`,
      );
    }
  }
  expect(checked).toBeGreaterThan(20);
  expect(problems).toEqual([]);
});

test('no table outside the tenant tables references a tenant table', () => {
  // A platform table pointing at a tenant row would be a second, unscoped way to reach it.
  const problems = catalog.foreignKeys
    .filter((fk) => isTenant(fk.refTable) && !isTenant(fk.table))
    .map((fk) => `${fk.table}.${fk.name} -> ${fk.refTable}`);
  expect(problems).toEqual([]);
});

test('every foreign key of a tenant table has an index led by its columns', () => {
  const problems: string[] = [];
  for (const fk of catalog.foreignKeys) {
    if (!isTenant(fk.table)) continue;
    const wanted = [...fk.columns].sort().join();
    const covered = catalog.indexes.some(
      (i) =>
        i.table === fk.table &&
        !i.partial &&
        i.keys.length >= fk.columns.length &&
        [...i.keys.slice(0, fk.columns.length)].sort().join() === wanted,
    );
    if (!covered) problems.push(`${fk.table}.${fk.name} (${fk.columns.join(', ')})`);
  }
  expect(problems).toEqual([]);
});

/** True when `a`'s key columns (with operator classes) are a leading part of `b`'s. */
function isLeadingPrefix(a: IndexInfo, b: IndexInfo): boolean {
  if (a.keys.length > b.keys.length) return false;
  return a.keys.every((key, i) => key === b.keys[i] && a.opclasses[i] === b.opclasses[i]);
}

test('no redundant index: no non-unique index is a leading prefix of another index', () => {
  const problems: string[] = [];
  for (const a of catalog.indexes) {
    if (a.unique || a.exclusion || a.partial) continue;
    for (const b of catalog.indexes) {
      if (a === b || b.table !== a.table || b.method !== a.method || b.partial) continue;
      if (isLeadingPrefix(a, b)) {
        problems.push(
          `${a.table}: ${a.name} (${a.keys.join(', ')}) is covered by ${b.name} (${b.keys.join(', ')})`,
        );
      }
    }
  }
  expect(problems).toEqual([]);
});

test('the redundancy check itself tells a redundant index from a useful one', () => {
  const index = (
    name: string,
    keys: string[],
    opclasses = keys.map(() => 'uuid_ops'),
  ): IndexInfo => ({
    name,
    table: 'x',
    method: 'btree',
    unique: false,
    primary: false,
    exclusion: false,
    partial: false,
    keys,
    opclasses,
  });
  expect(isLeadingPrefix(index('a', ['company_id']), index('pk', ['company_id', 'id']))).toBe(true);
  expect(isLeadingPrefix(index('a', ['company_id', 'x']), index('b', ['company_id', 'y']))).toBe(
    false,
  );
  expect(
    isLeadingPrefix(
      index('a', ['company_id', 'lower(name)'], ['uuid_ops', 'text_pattern_ops']),
      index('b', ['company_id', 'lower(name)'], ['uuid_ops', 'text_ops']),
    ),
  ).toBe(false);
});

describe('invariant 3: the runtime role', () => {
  test('is not a superuser, cannot bypass row level security and cannot switch to another role', async () => {
    const [role] = await rows<{
      super: boolean;
      bypass: boolean;
      createrole: boolean;
      createdb: boolean;
    }>(
      t.superuser,
      `select rolsuper as super, rolbypassrls as bypass, rolcreaterole as createrole, rolcreatedb as createdb
         from pg_roles where rolname = ?`,
      [RUNTIME_ROLE],
    );
    expect(role).toEqual({ super: false, bypass: false, createrole: false, createdb: false });
    const memberOf = await rows<{ role: string }>(
      t.superuser,
      `select m.roleid::regrole::text as role from pg_auth_members m where m.member = ?::regrole`,
      [RUNTIME_ROLE],
    );
    expect(memberOf).toEqual([]);
  });

  test('owns no table, view, sequence or function', async () => {
    const owned = await rows<{ name: string }>(
      t.superuser,
      `select c.oid::regclass::text as name from pg_class c where c.relowner = ?::regrole
       union all
       select p.oid::regprocedure::text from pg_proc p where p.proowner = ?::regrole`,
      [RUNTIME_ROLE, RUNTIME_ROLE],
    );
    expect(owned).toEqual([]);
  });

  test('is who db.knex runs as, on every pooled connection', async () => {
    const seen = await Promise.all(
      Array.from({ length: 6 }, () =>
        t.db.knex.transaction(async (trx) => {
          const [r] = await rows<{ role: string; superuser: string; pid: number }>(
            trx,
            `select current_user::text as role, current_setting('is_superuser') as superuser,
                    pg_backend_pid() as pid, pg_sleep(0.05) is null as slept`,
          );
          return r;
        }),
      ),
    );
    expect(new Set(seen.map((s) => s.pid)).size).toBeGreaterThan(1);
    for (const s of seen) expect(s).toMatchObject({ role: RUNTIME_ROLE, superuser: 'off' });
  });

  test('cannot create companies or read platform admins directly', async () => {
    const [grants] = await rows<{
      insert_companies: boolean;
      delete_companies: boolean;
      read_admins: boolean;
    }>(
      t.superuser,
      `select has_table_privilege(?, 'companies', 'INSERT') as insert_companies,
              has_table_privilege(?, 'companies', 'DELETE') as delete_companies,
              has_table_privilege(?, 'platform_admins', 'SELECT') as read_admins`,
      [RUNTIME_ROLE, RUNTIME_ROLE, RUNTIME_ROLE],
    );
    expect(grants).toEqual({
      insert_companies: false,
      delete_companies: false,
      read_admins: false,
    });
  });
});

describe('migrations', () => {
  const dir = path.resolve(__dirname, '../../migrations');
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => f.replace(/\.ts$/, ''))
    .sort();

  test('the static MIGRATIONS list names every file in migrations/, in order', () => {
    expect(MIGRATIONS.map(([name]) => name)).toEqual(files);
  });

  test('each entry is the module of its own file', () => {
    for (const [name, migration] of MIGRATIONS) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const fromFile = require(path.join(dir, name)) as { up: unknown; down: unknown };
      expect({
        name,
        up: migration.up === fromFile.up,
        down: migration.down === fromFile.down,
      }).toEqual({
        name,
        up: true,
        down: true,
      });
    }
  });

  test('the database under test has exactly these migrations applied', async () => {
    const applied = await rows<{ name: string }>(
      t.superuser,
      'select name from knex_migrations order by id',
    );
    expect(applied.map((r) => r.name)).toEqual(MIGRATIONS.map(([name]) => name));
  });
});
