import { createTestDatabase, type TestDatabase } from '../helpers/pg';
import { inTenantTransaction } from '../../src/tenancy/tenant-binding';
import { seedCompany } from './helpers';

/** The inbox and the Cal.com routing tables keep the schema's rules. */
let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => t.drop());

const TABLES = ['webhook_events', 'team_event_type_mappings', 'calcom_team_members'];

test('no index is a leading prefix of another, and every foreign key has an index', async () => {
  const { rows: indexes } = await t.superuser.raw<{
    rows: { tbl: string; name: string; cols: string[] }[];
  }>(
    `select c.relname as tbl, i.relname as name,
            array(select a.attname::text from unnest(x.indkey) with ordinality k(attnum, n)
                  join pg_attribute a on a.attrelid = x.indrelid and a.attnum = k.attnum order by k.n) as cols
       from pg_index x join pg_class i on i.oid = x.indexrelid join pg_class c on c.oid = x.indrelid
      where c.relname = any(?) and x.indpred is null`,
    [TABLES],
  );
  for (const a of indexes) {
    for (const b of indexes) {
      if (a === b || a.tbl !== b.tbl || a.cols.length > b.cols.length) continue;
      const prefix = a.cols.every((col, i) => b.cols[i] === col);
      if (prefix)
        throw new Error(
          `${a.name} (${a.cols.join(',')}) is a prefix of ${b.name} (${b.cols.join(',')})`,
        );
    }
  }
  const { rows: fks } = await t.superuser.raw<{
    rows: { tbl: string; name: string; cols: string[] }[];
  }>(
    `select c.relname as tbl, f.conname as name,
            array(select a.attname::text from unnest(f.conkey) with ordinality k(attnum, n)
                  join pg_attribute a on a.attrelid = f.conrelid and a.attnum = k.attnum order by k.n) as cols
       from pg_constraint f join pg_class c on c.oid = f.conrelid
      where f.contype = 'f' and c.relname = any(?)`,
    [TABLES],
  );
  expect(fks.length).toBeGreaterThan(0);
  for (const fk of fks) {
    const covered = indexes.some(
      (i) => i.tbl === fk.tbl && fk.cols.every((col, n) => i.cols[n] === col),
    );
    if (!covered) throw new Error(`foreign key ${fk.name} (${fk.cols.join(',')}) has no index`);
  }
});

test('webhook_events: no company_id, RLS forced, read-only for the runtime role', async () => {
  const cols = await t
    .superuser('information_schema.columns')
    .where({ table_name: 'webhook_events' })
    .pluck('column_name');
  expect(cols).not.toContain('company_id');
  expect(cols).toContain('resolved_company_id');
  const cls = await t
    .superuser('pg_class')
    .where({ relname: 'webhook_events' })
    .first('relrowsecurity', 'relforcerowsecurity');
  expect(cls).toEqual({ relrowsecurity: true, relforcerowsecurity: true });
  const { rows: privs } = await t.superuser.raw<{ rows: { privilege_type: string }[] }>(
    `select privilege_type from information_schema.role_table_grants where table_name = 'webhook_events' and grantee = 'app_runtime'`,
  );
  expect(privs.map((p) => p.privilege_type)).toEqual(['SELECT']);
  await expect(
    t.db.knex('webhook_events').insert({
      provider: 'retell',
      event_type: 'x',
      dedupe_key: 'k',
      payload_raw: '{}',
      payload: '{}',
    }),
  ).rejects.toThrow(/permission denied/);
});

test('the runtime role sees only its tenant’s events, and none without a tenant', async () => {
  const a = await seedCompany(t.superuser);
  const b = await seedCompany(t.superuser);
  for (const [co, key] of [
    [a, 'ka'],
    [b, 'kb'],
    [null, 'kn'],
  ] as const) {
    await t.superuser('webhook_events').insert({
      provider: 'retell',
      event_type: 'call_started',
      dedupe_key: key,
      payload_raw: '{}',
      payload: '{}',
      resolved_company_id: co?.companyId ?? null,
    });
  }
  expect(await t.db.knex('webhook_events').select('dedupe_key')).toEqual([]);
  const seen = await inTenantTransaction(t.db.knex, a.companyId, (trx) =>
    trx('webhook_events').pluck('dedupe_key'),
  );
  expect(seen).toEqual(['ka']);
});

test('the inbox functions are SECURITY DEFINER, owned by app_platform, with a fixed search_path', async () => {
  const { rows } = await t.superuser.raw<{
    rows: { proname: string; prosecdef: boolean; owner: string; proconfig: string[] | null }[];
  }>(
    `select p.proname, p.prosecdef, r.rolname as owner, p.proconfig from pg_proc p join pg_roles r on r.oid = p.proowner
      where p.proname like 'webhook\\_%' or p.proname in ('platform_webhook_events','platform_webhook_stats','platform_route_retell','platform_route_calcom')`,
  );
  expect(rows.length).toBe(15); // with webhook_reject, webhook_ingest_bound, the lease functions and webhook_complete_many
  for (const fn of rows) {
    expect(fn).toMatchObject({ prosecdef: true, owner: 'app_platform' });
    expect(fn.proconfig?.some((c) => c.startsWith('search_path='))).toBe(true);
  }
});
