import type { Knex } from 'knex';
import { openDatabase, type Database } from '../../src/db/database';
import { PLATFORM_CLIENT_ROLE, RUNTIME_ROLE } from '../../src/db/schema-helpers';
import { lendLogins, type RoleLogins } from '../helpers/role-logins';
import { createTestDatabase, type TestDatabase } from '../helpers/pg';
import { pgbouncerAvailable, startPgBouncer, type PgBouncer } from '../helpers/pgbouncer';
import { startTestServer, type TestServer } from '../helpers/server';
import { createWorld, type World } from '../helpers/world';
import {
  postRetell,
  RETELL_KEY,
  retellEvent,
  seedCompany,
  unique,
  waitFor,
} from '../webhooks/helpers';
import { defineIsolationSuite } from './isolation-suite';

/**
 * The tenant isolation proof, a GraphQL session and a webhook delivery through PgBouncer in
 * transaction pooling mode: a server connection serves many clients one transaction at a time, so
 * nothing may rely on session state. The runtime and platform roles log in as themselves (no
 * `SET ROLE` per connection), the tenant is bound per transaction with set_config(…, true), and
 * pg's unnamed statements are used (PgBouncer 1.18 cannot pool named prepared statements).
 */
const available = pgbouncerAvailable();
const suite = available ? describe : describe.skip;

const ROLES = [RUNTIME_ROLE, PLATFORM_CLIENT_ROLE];
let bouncer: PgBouncer | undefined;
let logins: RoleLogins | undefined;

/** The app's handles through the pooler, each role logging in as itself. */
function openThroughPooler(t: TestDatabase, poolMax = 10): Promise<Database> {
  const b = bouncer!;
  return openDatabase({
    url: b.url(t.name),
    runtimeUrl: b.url(t.name, RUNTIME_ROLE),
    platformUrl: b.url(t.name, PLATFORM_CLIENT_ROLE),
    poolMax,
  });
}

if (available) {
  beforeAll(async () => {
    logins = await lendLogins(ROLES);
    bouncer = await startPgBouncer();
  });
  afterAll(async () => {
    await bouncer?.stop();
    await logins?.release();
  });
}

suite('through PgBouncer (transaction pooling)', () => {
  let t: TestDatabase | undefined;
  let pooled: Database | undefined;
  afterAll(async () => {
    await pooled?.close();
    await t?.drop();
  });

  defineIsolationSuite(async () => {
    t = await createTestDatabase();
    pooled = await openThroughPooler(t);
    const { superuser } = t;
    const tdb = t;
    return {
      db: pooled,
      asOwner: (fn) => fn(superuser),
      singleConnection: async () => {
        const single = await openThroughPooler(tdb, 1);
        return { db: single, close: () => single.close() };
      },
    };
  });
});

suite('GraphQL and webhooks through PgBouncer', () => {
  let s: TestServer;
  let w: World;
  beforeAll(async () => {
    s = await startTestServer(
      { retellApiKeys: [RETELL_KEY], webhookRateLimitPerMinute: 100_000 },
      (t) => openThroughPooler(t),
    );
    w = await createWorld(s);
  });
  afterAll(async () => s?.close());

  test('the handles log in as their roles; no session state, no named prepared statements', async () => {
    const db = s.server.deps.db;
    const handles: Array<[string, Knex]> = [
      [RUNTIME_ROLE, db.knex],
      [PLATFORM_CLIENT_ROLE, db.platform],
    ];
    for (const [role, knex] of handles) {
      for (let i = 0; i < 5; i++) {
        const { rows } = await knex.raw<{
          rows: { session_user: string; current_user: string; tenant: string | null }[];
        }>(
          `select session_user::text as session_user, current_user::text as current_user,
                  nullif(current_setting('app.company_id', true), '') as tenant`,
        );
        expect(rows[0]).toEqual({ session_user: role, current_user: role, tenant: null });
        const prepared = await knex.raw<{ rows: { n: number }[] }>(
          'select count(*)::int as n from pg_prepared_statements',
        );
        expect(prepared.rows[0].n).toBe(0);
      }
    }
  });

  test('sign-in, a query and a mutation through the pooler', async () => {
    const token = await w.login(w.a.users.admin.email);
    const created = await s.gql<{ createCustomer: { id: string; name: string } }>(
      'mutation { createCustomer(input: { name: "Pooled Person", phone: "+4930555019911" }) { id name } }',
      {},
      { token },
    );
    expect(created.errors).toBeUndefined();
    expect(created.data?.createCustomer.name).toBe('Pooled Person');
    const list = await s.gql<{ customers: { totalCount: number } }>(
      '{ customers(first: 5, filter: { search: "Pooled" }) { totalCount } }',
      {},
      { token },
    );
    expect(list.errors).toBeUndefined();
    expect(list.data?.customers.totalCount).toBe(1);
    // Company B sees nothing of it.
    const other = await w.login(w.b.users.admin.email);
    const none = await s.gql<{ customers: { totalCount: number } }>(
      '{ customers(first: 5, filter: { search: "Pooled" }) { totalCount } }',
      {},
      { token: other },
    );
    expect(none.data?.customers.totalCount).toBe(0);
  });

  test('a signed Retell webhook is stored and applied once by the worker', async () => {
    const co = await seedCompany(s.t.superuser);
    const callId = unique('pooled-call');
    const event = retellEvent('call_started', {
      call_id: callId,
      agent_id: co.agentId,
      to_number: co.number,
    });
    const first = await postRetell(s.url, event);
    expect(first.status).toBe(202);
    const again = await postRetell(s.url, event);
    expect(again.status).toBeLessThan(300);
    await waitFor(async () => {
      const row = await s.t
        .superuser('webhook_events')
        .where('payload_raw', 'like', `%${callId}%`)
        .first();
      return row?.status === 'processed';
    }, 20_000);
    expect(await s.t.superuser('calls').where({ retell_call_id: callId })).toHaveLength(1);
  });
});
