import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { checkSessionRoles, openDatabase, type Database } from '../../src/db/database';
import { PLATFORM_CLIENT_ROLE, RUNTIME_ROLE } from '../../src/db/schema-helpers';
import { lendLogins, type RoleLogins } from '../helpers/role-logins';
import { bindTenant } from '../../src/tenancy/tenant-binding';
import { createTestDatabase, type TestDatabase } from '../helpers/pg';

/**
 * The second line of defence under the tenant query builder and row level security: the runtime
 * role that serves tenant requests can read no other company's data through any function. Every
 * function of the app's schemas is found in pg_catalog (so one added later is covered without
 * touching this file) and called as the runtime role, with no tenant and with a tenant set. The
 * rule this enforces: every SECURITY DEFINER function is executable by app_platform_client only.
 */

let t: TestDatabase;
const A = randomUUID();
const B = randomUUID();
const HASH =
  '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA';
let eventA: string;
let eventB: string;
let adminId: string;

interface Fn {
  oid: number;
  schema: string;
  name: string;
  secdef: boolean;
  args: string[];
  trigger: boolean;
  search_path: boolean;
  runtime_exec: boolean;
  client_exec: boolean;
  public_exec: boolean;
}

/** Every plain function of the app's own schemas (extension members and triggers excluded later). */
const FUNCTIONS_SQL = `
  select p.oid::int as oid, n.nspname::text as schema, p.proname::text as name, p.prosecdef as secdef,
         array(select format_type(a.t, null) from unnest(p.proargtypes::oid[]) with ordinality a(t, i) order by a.i) as args,
         p.prorettype = 'trigger'::regtype as trigger,
         coalesce(p.proconfig::text[] && array(select c from unnest(p.proconfig) c where c like 'search_path=%'), false) as search_path,
         has_function_privilege('${RUNTIME_ROLE}', p.oid, 'EXECUTE') as runtime_exec,
         has_function_privilege('${PLATFORM_CLIENT_ROLE}', p.oid, 'EXECUTE') as client_exec,
         coalesce(exists (select 1 from aclexplode(p.proacl) x where x.grantee = 0 and x.privilege_type = 'EXECUTE'), p.proacl is null) as public_exec
    from pg_proc p join pg_namespace n on n.oid = p.pronamespace
   where n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_%'
     and p.prokind = 'f'
     and not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
   order by 2, 3`;

async function functions(knex: Knex): Promise<Fn[]> {
  return (await knex.raw<{ rows: Fn[] }>(FUNCTIONS_SQL)).rows;
}

/** The SECURITY DEFINER functions that break the rule, as `name: problem`. */
function violations(fns: Fn[]): string[] {
  const out: string[] = [];
  for (const f of fns.filter((x) => x.secdef)) {
    if (f.runtime_exec) out.push(`${f.name}: executable by ${RUNTIME_ROLE}`);
    if (f.public_exec) out.push(`${f.name}: executable by PUBLIC`);
    if (!f.client_exec) out.push(`${f.name}: not executable by ${PLATFORM_CLIENT_ROLE}`);
    if (!f.search_path) out.push(`${f.name}: no fixed search_path`);
  }
  return out;
}

beforeAll(async () => {
  t = await createTestDatabase();
  const su = t.superuser;
  await su('companies').insert([
    { id: A, name: 'A', slug: `a-${A.slice(0, 8)}` },
    { id: B, name: 'B', slug: `b-${B.slice(0, 8)}` },
  ]);
  await su('users').insert([
    {
      company_id: A,
      email: 'same@example.test',
      name: 'A user',
      password_hash: HASH,
      roles: ['admin'],
    },
    {
      company_id: B,
      email: 'same@example.test',
      name: 'B user',
      password_hash: HASH,
      roles: ['admin'],
    },
  ]);
  [{ id: adminId }] = (await su('platform_admins')
    .insert({ email: 'root@example.test', name: 'Root', password_hash: HASH })
    .returning('id')) as { id: string }[];
  const events = (await su('webhook_events')
    .insert(
      [A, B].map((company, i) => ({
        provider: 'retell',
        event_type: 'call_ended',
        dedupe_key: `k${i}`,
        payload_raw: '{}',
        payload: {},
        status: 'dead',
        resolved_company_id: company,
      })),
    )
    .returning('id')) as { id: string }[];
  [eventA, eventB] = events.map((e) => e.id);
});
afterAll(async () => t.drop());

test('functions are discovered from pg_catalog, including every SECURITY DEFINER one', async () => {
  const fns = await functions(t.superuser);
  const definers = fns.filter((f) => f.secdef).map((f) => f.name);
  expect(definers.length).toBeGreaterThanOrEqual(18);
  for (const name of [
    'platform_login_candidates',
    'platform_create_admin',
    'platform_webhook_events',
    'webhook_replay',
    'webhook_ingest',
    'platform_companies',
    'platform_metrics_companies',
  ]) {
    expect(definers).toContain(name);
  }
});

test('every SECURITY DEFINER function is executable by the platform caller role only', async () => {
  expect(violations(await functions(t.superuser))).toEqual([]);
});

test('the check catches a new SECURITY DEFINER function granted to the runtime role', async () => {
  // Made and rolled back in one transaction, so no other test sees it.
  const found = await t.superuser
    .transaction(async (trx) => {
      await trx.raw(`create function sneaky_all_users() returns setof users
        language sql stable security definer set search_path = pg_catalog, public as $$ select * from users $$`);
      await trx.raw(`grant execute on function sneaky_all_users() to ${RUNTIME_ROLE}`);
      const out = violations(await functions(trx));
      throw Object.assign(new Error('rollback'), { out });
    })
    .catch((err: { out?: string[] }) => err.out);
  expect(found).toEqual(
    expect.arrayContaining([
      `sneaky_all_users: executable by ${RUNTIME_ROLE}`,
      'sneaky_all_users: executable by PUBLIC',
    ]),
  );
});

type Outcome = { fn: string; denied: boolean; rows: unknown[]; error?: string };

/** Calls every function with NULL arguments on the runtime role's own pooled connection. */
async function callEverything(db: Database, tenant: string | null): Promise<Outcome[]> {
  const fns = (await functions(t.superuser)).filter((f) => !f.trigger);
  return db.knex.transaction(async (trx) => {
    if (tenant) await bindTenant(trx, tenant);
    const outcomes: Outcome[] = [];
    for (const f of fns) {
      const args = f.args.map((a) => `null::${a}`).join(', ');
      const sql = `select * from "${f.schema}"."${f.name}"(${args})`;
      try {
        const rows = await trx.transaction(
          async (sp) => (await sp.raw<{ rows: unknown[] }>(sql)).rows,
        );
        outcomes.push({ fn: f.name, denied: false, rows });
      } catch (err) {
        const code = (err as { code?: string }).code;
        outcomes.push({ fn: f.name, denied: code === '42501', rows: [], error: code });
      }
    }
    return outcomes;
  });
}

/** Calls the dangerous functions with plausible arguments as the runtime role. */
async function callDangerous(db: Database, tenant: string | null): Promise<Outcome[]> {
  const calls: Array<[string, string, unknown[]]> = [
    [
      'platform_login_candidates',
      'select * from platform_login_candidates(?::citext)',
      ['same@example.test'],
    ],
    [
      'platform_login_candidates',
      'select * from platform_login_candidates(?::citext)',
      ['root@example.test'],
    ],
    [
      'platform_create_admin',
      'select platform_create_admin(?::citext, ?, ?)',
      ['evil@example.test', 'Evil', HASH],
    ],
    ['platform_admin_profile', 'select * from platform_admin_profile(?::uuid)', [adminId]],
    ['platform_companies', 'select * from platform_companies()', []],
    [
      'platform_webhook_events',
      'select * from platform_webhook_events(null, null, false, null, null, null, null, 100)',
      [],
    ],
    [
      'platform_webhook_events',
      'select * from platform_webhook_events(null, ?::uuid, false, null, null, null, null, 100)',
      [B],
    ],
    [
      'platform_webhook_stats',
      "select * from platform_webhook_stats(now() - interval '1 year')",
      [],
    ],
    ['webhook_replay', 'select * from webhook_replay(?::uuid, ?)', [eventB, 'evil']],
    ['webhook_claim', 'select * from webhook_claim(?, 100, 60000)', ['evil']],
    ['webhook_purge', "select webhook_purge(now() + interval '1 day', 1000)", []],
    [
      'platform_route_retell',
      'select * from platform_route_retell(?, ?)',
      ['agent', '+4930123456'],
    ],
    ['platform_route_calcom', 'select * from platform_route_calcom(1)', []],
    ['platform_metrics_companies', 'select * from platform_metrics_companies()', []],
  ];
  return db.knex.transaction(async (trx) => {
    if (tenant) await bindTenant(trx, tenant);
    const outcomes: Outcome[] = [];
    for (const [fn, sql, bindings] of calls) {
      try {
        const rows = await trx.transaction(
          async (sp) => (await sp.raw<{ rows: unknown[] }>(sql, bindings as never)).rows,
        );
        outcomes.push({ fn, denied: false, rows });
      } catch (err) {
        const code = (err as { code?: string }).code;
        outcomes.push({ fn, denied: code === '42501', rows: [], error: code });
      }
    }
    return outcomes;
  });
}

function leaks(outcomes: Outcome[], foreign: string[]): string[] {
  const out: string[] = [];
  for (const o of outcomes) {
    const text = JSON.stringify(o.rows);
    if (text.includes('$argon2')) out.push(`${o.fn}: returned a password hash`);
    for (const id of foreign) if (text.includes(id)) out.push(`${o.fn}: returned a row of ${id}`);
  }
  return out;
}

describe.each([
  ['no tenant', null, () => [A, B]],
  ['tenant A', () => A, () => [B]],
] as const)('as the runtime role with %s', (_label, tenantOf, foreignOf) => {
  test('calling every function returns no other company row and no password hash', async () => {
    const tenant = typeof tenantOf === 'function' ? tenantOf() : null;
    const admins = await t.superuser('platform_admins').count({ n: '*' });
    const outcomes = await callEverything(t.db, tenant);
    expect(outcomes.length).toBeGreaterThan(18);
    expect(leaks(outcomes, foreignOf())).toEqual([]);
    const definers = new Set(
      (await functions(t.superuser)).filter((f) => f.secdef).map((f) => f.name),
    );
    const notDenied = outcomes.filter((o) => definers.has(o.fn) && !o.denied).map((o) => o.fn);
    expect(notDenied).toEqual([]);
    expect(await t.superuser('platform_admins').count({ n: '*' })).toEqual(admins);
  });

  test('the dangerous functions with real arguments are refused: permission denied', async () => {
    const tenant = typeof tenantOf === 'function' ? tenantOf() : null;
    const outcomes = await callDangerous(t.db, tenant);
    expect(outcomes.filter((o) => !o.denied)).toEqual([]);
    expect(leaks(outcomes, foreignOf())).toEqual([]);
    // No admin was created and no other company's event was touched.
    expect(await t.superuser('platform_admins').where({ email: 'evil@example.test' })).toEqual([]);
    const [b] = await t
      .superuser('webhook_events')
      .where({ id: eventB })
      .select('status', 'replay_count');
    expect(b).toEqual({ status: 'dead', replay_count: 0 });
  });
});

describe('with logins of their own (as production requires)', () => {
  // Roles belong to the cluster: they get a login for this test and lose it again afterwards.
  let db: Database;
  let logins: RoleLogins | undefined;
  const loginUrl = (role: string) => {
    const url = new URL(t.url);
    url.username = role;
    url.password = '';
    return url.toString();
  };
  beforeAll(async () => {
    logins = await lendLogins([RUNTIME_ROLE, PLATFORM_CLIENT_ROLE]);
    db = await openDatabase({
      url: t.url,
      runtimeUrl: loginUrl(RUNTIME_ROLE),
      platformUrl: loginUrl(PLATFORM_CLIENT_ROLE),
      poolMax: 2,
    });
  });
  afterAll(async () => {
    await db?.close();
    await logins?.release();
  });

  test('the runtime login can neither reach the owner nor become the platform caller role', async () => {
    await db.knex.transaction(async (trx) => {
      await trx.raw('reset role');
      const { rows } = await trx.raw<{ rows: { role: string }[] }>(
        'select current_user::text as role',
      );
      expect(rows[0].role).toBe(RUNTIME_ROLE);
      await expect(
        trx.transaction((sp) => sp.raw(`set role ${PLATFORM_CLIENT_ROLE}`)),
      ).rejects.toMatchObject({ code: '42501' });
      await expect(
        trx.transaction((sp) =>
          sp.raw('select * from platform_login_candidates(?::citext)', ['same@example.test']),
        ),
      ).rejects.toMatchObject({ code: '42501' });
    });
    const outcomes = await callDangerous(db, null);
    expect(outcomes.filter((o) => !o.denied)).toEqual([]);
  });

  test('the platform login reaches the platform functions, still under row level security', async () => {
    const { rows } = await db.platform.raw<{ rows: { company_id: string }[] }>(
      'select * from platform_login_candidates(?::citext)',
      ['same@example.test'],
    );
    expect(rows).toHaveLength(2);
    expect(await db.platform('users').select('id')).toEqual([]);
  });

  test('the server refuses to start when DATABASE_RUNTIME_URL logs in as another role', async () => {
    await expect(checkSessionRoles(db)).resolves.toBeUndefined();
    // The owner's URL given as the runtime login: RESET ROLE would reach the owner.
    const wrong = await openDatabase({
      url: t.url,
      runtimeUrl: t.url,
      platformUrl: loginUrl(PLATFORM_CLIENT_ROLE),
      poolMax: 1,
    });
    try {
      await expect(checkSessionRoles(wrong)).rejects.toThrow(/DATABASE_RUNTIME_URL/);
    } finally {
      await wrong.close();
    }
  });

  test('the platform caller role is a member of the runtime role, never the other way round', async () => {
    const members = await t.superuser.raw<{ rows: { member: string; role: string }[] }>(
      `select m.member::regrole::text as member, m.roleid::regrole::text as role from pg_auth_members m
        where m.member = any(array[?, ?]::regrole[])`,
      [RUNTIME_ROLE, PLATFORM_CLIENT_ROLE],
    );
    expect(members.rows).toEqual([{ member: PLATFORM_CLIENT_ROLE, role: RUNTIME_ROLE }]);
  });
});

test('db.platform runs as the platform caller role and reaches the platform functions', async () => {
  const [who] = (
    await t.db.platform.raw<{ rows: { role: string; bypass: boolean }[] }>(
      `select current_user::text as role, r.rolbypassrls as bypass from pg_roles r where r.rolname = current_user`,
    )
  ).rows;
  expect(who).toEqual({ role: PLATFORM_CLIENT_ROLE, bypass: false });
  const { rows } = await t.db.platform.raw<{ rows: { company_id: string }[] }>(
    'select * from platform_login_candidates(?::citext)',
    ['same@example.test'],
  );
  expect(rows.map((r) => r.company_id).sort()).toEqual([A, B].sort());
  // Row level security holds for it as for the runtime role: no tenant, no tenant rows.
  expect(await t.db.platform('users').select('id')).toEqual([]);
  const own = await t.db.platform.transaction(async (trx) => {
    await bindTenant(trx, A);
    return trx('users').pluck('company_id');
  });
  expect(own).toEqual([A]);
  expect(eventA).toBeDefined();
});
