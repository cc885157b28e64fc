import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startTestServer, type TestServer } from '../helpers/server';
import {
  createTenantFixtures,
  snapshotCompany,
  type TenantFixtures,
} from '../helpers/tenant-fixtures';
import { createWorld, type World } from '../helpers/world';

/**
 * Offboarding a company: its export holds every row it owns (one NDJSON file per tenant table,
 * tables discovered from the catalogue), and afterwards no tenant table holds a row of it while
 * every other company is byte for byte unchanged.
 */
let s: TestServer;
let w: World;
let f: TenantFixtures;
let root: string;
const exportDir = mkdtempSync(path.join(tmpdir(), 'offboarding-'));

const OFFBOARD = `mutation($id: ID!) {
  offboardCompany(companyId: $id) { companyId slug directory manifestSha256 deletedRows files { table file rows sha256 } }
}`;

beforeAll(async () => {
  s = await startTestServer({ exportDir });
  w = await createWorld(s);
  f = await createTenantFixtures(s.t.superuser);
  root = await w.login(w.superAdmin.email);
  // More than one row in a few tables, and a stored webhook event for each fixture company.
  for (const company of [f.a, f.b]) {
    for (let n = 1; n <= 3; n++) {
      await s.t.superuser('customers').insert(f.buildRow('customers', company, n));
    }
    await s.t.superuser('webhook_events').insert({
      provider: 'retell',
      event_type: 'call_started',
      dedupe_key: `offboarding-${company.label}`,
      payload_raw: '{}',
      payload: {},
      status: 'processed',
      resolved_company_id: company.companyId,
    });
  }
});
afterAll(async () => {
  await s.close();
  rmSync(exportDir, { recursive: true, force: true });
});

async function countRows(companyId: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const table of f.catalog.tenantTables) {
    const [{ n }] = await s.t.superuser(table).where({ company_id: companyId }).count({ n: '*' });
    out[table] = Number(n);
  }
  return out;
}

test('the platform role may delete in every tenant table (a new table needs the grant)', async () => {
  const missing: string[] = [];
  for (const table of f.catalog.tenantTables) {
    const { rows } = await s.t.superuser.raw(
      "select has_table_privilege('app_platform', ?, 'DELETE') as ok",
      [table],
    );
    if (!rows[0].ok) missing.push(table);
  }
  expect(missing).toEqual([]);
});

test('only a suspended company can be offboarded, only by a super admin', async () => {
  const admin = await w.login(w.a.users.admin.email);
  const byAdmin = await s.gql(OFFBOARD, { id: w.a.id }, { token: admin });
  expect(byAdmin.errors?.[0].extensions?.code).toBe('FORBIDDEN');
  const active = await s.gql(OFFBOARD, { id: f.a.companyId }, { token: root });
  expect(active.errors?.[0].extensions).toMatchObject({ code: 'CONFLICT', field: 'companyId' });
  const unknown = await s.gql(
    OFFBOARD,
    { id: '00000000-0000-4000-8000-000000000000' },
    { token: root },
  );
  expect(unknown.errors?.[0].extensions).toMatchObject({ code: 'NOT_FOUND', field: 'companyId' });
  expect(readdirSync(exportDir)).toEqual([]);
});

test('export everything, then zero rows of the company in every tenant table; others unchanged', async () => {
  const suspended = await s.gql(
    'mutation($id: ID!) { suspendCompany(companyId: $id) { id } }',
    { id: f.a.companyId },
    { token: root },
  );
  expect(suspended.errors).toBeUndefined();
  const before = await countRows(f.a.companyId);
  // Every tenant table holds at least one row of A, so the test covers them all.
  expect(Object.entries(before).filter(([, n]) => n === 0)).toEqual([]);
  const othersBefore = await Promise.all(
    [f.b.companyId, w.a.id, w.b.id].map((id) => snapshotCompany(s.t.superuser, f.catalog, id)),
  );
  const companiesBefore = await s.t
    .superuser('companies')
    .whereNot({ id: f.a.companyId })
    .orderBy('id');
  const eventsBefore = await s.t
    .superuser('webhook_events')
    .whereNot({ resolved_company_id: f.a.companyId })
    .orderBy('id');

  const started = Date.now();
  const res = await s.gql(OFFBOARD, { id: f.a.companyId }, { token: root });
  const tookMs = Date.now() - started;
  expect(res.errors).toBeUndefined();
  const report = res.data!.offboardCompany;

  // The export: one file per tenant table (and the company row and its webhook events), each with
  // exactly the rows the company had, with checksums that match, and a manifest.
  const byTable = new Map<string, { file: string; rows: number; sha256: string }>(
    report.files.map((x: { table: string; file: string; rows: number; sha256: string }) => [
      x.table,
      x,
    ]),
  );
  for (const table of f.catalog.tenantTables) {
    expect([table, byTable.get(table)?.rows]).toEqual([table, before[table]]);
  }
  expect(byTable.get('companies')?.rows).toBe(1);
  expect(byTable.get('webhook_events')?.rows).toBe(1);
  for (const [table, entry] of byTable) {
    const body = readFileSync(path.join(report.directory, entry.file), 'utf8');
    expect([table, createHash('sha256').update(body).digest('hex')]).toEqual([table, entry.sha256]);
    const lines = body
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(entry.rows);
    if (table !== 'companies' && table !== 'webhook_events') {
      expect(lines.every((r) => r.company_id === f.a.companyId)).toBe(true);
    }
  }
  const manifest = readFileSync(path.join(report.directory, 'manifest.json'), 'utf8');
  expect(createHash('sha256').update(manifest).digest('hex')).toBe(report.manifestSha256);
  expect(JSON.parse(manifest)).toMatchObject({ companyId: f.a.companyId, format: 'ndjson' });
  // Secrets' hashes are not exported.
  const users = readFileSync(path.join(report.directory, 'users.ndjson'), 'utf8');
  expect(JSON.parse(users.split('\n')[0]).password_hash).toBeNull();

  // Nothing of A is left anywhere.
  const after = await countRows(f.a.companyId);
  expect(Object.entries(after).filter(([, n]) => n !== 0)).toEqual([]);
  expect(await s.t.superuser('companies').where({ id: f.a.companyId })).toEqual([]);
  expect(
    await s.t.superuser('webhook_events').where({ resolved_company_id: f.a.companyId }),
  ).toEqual([]);

  // Everyone else is unchanged.
  const othersAfter = await Promise.all(
    [f.b.companyId, w.a.id, w.b.id].map((id) => snapshotCompany(s.t.superuser, f.catalog, id)),
  );
  expect(othersAfter).toEqual(othersBefore);
  expect(await s.t.superuser('companies').whereNot({ id: f.a.companyId }).orderBy('id')).toEqual(
    companiesBefore,
  );
  expect(
    await s.t
      .superuser('webhook_events')
      .whereNot({ resolved_company_id: f.a.companyId })
      .orderBy('id'),
  ).toEqual(eventsBefore);

  // Audited on the platform, where the entry outlives the company.
  const audit = await s.t
    .superuser('platform_audit_log')
    .where({ target_company_id: f.a.companyId, action: 'company.offboard' })
    .first();
  expect(audit).toMatchObject({ actor_type: 'platform_admin', actor_id: w.superAdmin.id });
  expect(audit.details.slug).toEqual(expect.any(String));
  expect(audit.details.deleted.customers).toBeGreaterThanOrEqual(4);
  expect(tookMs).toBeLessThan(10_000);
  console.log(
    `offboarding: ${report.deletedRows} rows in ${report.files.length} files exported and deleted in ${tookMs} ms`,
  );
});
