import { createTestDatabase, type TestDatabase } from '../helpers/pg';

/**
 * The life-cycle and privacy functions cross tenants on purpose, so each is SECURITY DEFINER,
 * owned by app_platform, with a fixed search_path, and executable by the platform caller role
 * (app_platform_client) only: not by the runtime role, not by PUBLIC. Writing the platform audit log
 * is writePlatformAudit's job, so there is no platform_audit() function.
 */
let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => t.drop());

const FUNCTIONS = [
  'platform_create_company',
  'platform_company_status',
  'platform_set_company_suspended',
  'platform_offboard_company',
  'lifecycle_defer_webhook_event',
  'privacy_erase_customer_traces',
  'retention_purge_transcripts',
  'retention_purge_recordings',
];

test('each is SECURITY DEFINER, owned by app_platform, with a fixed search_path, executable by app_platform_client only', async () => {
  const { rows } = (await t.superuser.raw(
    `select p.proname::text as name, p.prosecdef, r.rolname::text as owner, p.proconfig,
            has_function_privilege('app_runtime', p.oid, 'EXECUTE') as runtime,
            has_function_privilege('app_platform_client', p.oid, 'EXECUTE') as client,
            exists (select 1 from aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                     where a.grantee = 0 and a.privilege_type = 'EXECUTE') as public
       from pg_proc p join pg_roles r on r.oid = p.proowner
      where p.proname = any(?)`,
    [FUNCTIONS],
  )) as {
    rows: {
      name: string;
      prosecdef: boolean;
      owner: string;
      proconfig: string[] | null;
      runtime: boolean;
      client: boolean;
      public: boolean;
    }[];
  };
  expect(rows.map((r) => r.name).sort()).toEqual([...FUNCTIONS].sort());
  for (const fn of rows) {
    expect(fn).toMatchObject({
      prosecdef: true,
      owner: 'app_platform',
      runtime: false,
      client: true,
      public: false,
    });
    expect(fn.proconfig?.some((c) => c.startsWith('search_path='))).toBe(true);
  }
});

test('the runtime role cannot read the platform audit log or suspend a company directly', async () => {
  const { rows } = (await t.superuser.raw(
    `select has_table_privilege('app_runtime', 'platform_audit_log', 'SELECT') as read_audit,
            has_table_privilege('app_runtime', 'platform_audit_log', 'INSERT') as write_audit,
            has_column_privilege('app_runtime', 'companies', 'suspended_at', 'UPDATE') as suspend,
            has_table_privilege('app_runtime', 'activity_logs', 'UPDATE') as rewrite_activity`,
  )) as { rows: Record<string, boolean>[] };
  expect(rows[0]).toEqual({
    read_audit: false,
    write_audit: false,
    suspend: false,
    rewrite_activity: false,
  });
});

test('the runtime role cannot execute them; the erasure function acts only in the bound company', async () => {
  await expect(
    t.db.knex.raw('select privacy_erase_customer_traces(gen_random_uuid(), ?::text[])', [
      ['someone'],
    ]),
  ).rejects.toMatchObject({ code: '42501' });
  await expect(
    t.db.knex.raw('select * from retention_purge_transcripts(10)'),
  ).rejects.toMatchObject({ code: '42501' });
  await expect(
    t.db.platform.raw('select privacy_erase_customer_traces(gen_random_uuid(), ?::text[])', [
      ['someone'],
    ]),
  ).rejects.toThrow(/no company bound/);
});
