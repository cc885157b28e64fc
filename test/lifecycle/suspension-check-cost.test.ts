import { startTestServer, type TestServer } from '../helpers/server';
import { createWorld, type World } from '../helpers/world';

/**
 * The suspension check costs no statement of its own: a request of a company user is refused for
 * a suspended company by the liveness check it makes anyway (auth_user_access_status for access
 * tokens, or the same check in the first round trip of a query's transaction; the API token
 * lookup for API tokens), and platform_company_status is not called per
 * request. Super admins are not refused.
 */
let s: TestServer;
let w: World;
let root: string;
let admin: string;
let apiToken: string;

const ME = '{ companyLifecycle { id suspendedAt } }';

beforeAll(async () => {
  s = await startTestServer();
  w = await createWorld(s);
  root = await w.login(w.superAdmin.email);
  admin = await w.login(w.a.users.admin.email);
  const created = await s.gql(
    'mutation { createApiToken(input: { name: "cost", scopes: ["appointments:read"] }) { token } }',
    {},
    { token: admin },
  );
  expect(created.errors).toBeUndefined();
  apiToken = created.data!.createApiToken.token;
});
afterAll(async () => s.close());

/** The statements of one request, on the runtime and the platform handle. */
async function statements(token: string): Promise<{ sql: string[]; errors: unknown }> {
  const sql: string[] = [];
  const onQuery = (q: { sql: string }) => {
    // The webhook worker polls on the same pools; its statements are not the request's.
    if (!/webhook/.test(q.sql)) sql.push(q.sql);
  };
  s.t.db.knex.on('query', onQuery);
  s.t.db.platform.on('query', onQuery);
  try {
    const res = await s.gql(ME, {}, { token });
    return { sql, errors: res.errors };
  } finally {
    s.t.db.knex.off('query', onQuery);
    s.t.db.platform.off('query', onQuery);
  }
}

/** The liveness check: the platform function, or the invoker function it calls (a query). */
const LIVENESS = /\b(auth_user|session)_access_status\(/;

test('a suspended company is refused by the one liveness statement, for access and API tokens', async () => {
  const active = await statements(admin);
  expect(active.errors).toBeUndefined();
  expect(active.sql.filter((q) => LIVENESS.test(q))).toHaveLength(1);
  expect(active.sql.filter((q) => q.includes('platform_company_status'))).toHaveLength(0);

  const suspend = await s.gql(
    'mutation($id: ID!) { suspendCompany(companyId: $id) { id } }',
    { id: w.a.id },
    { token: root },
  );
  expect(suspend.errors).toBeUndefined();

  const refused = await statements(admin);
  expect(refused.errors).toEqual([
    expect.objectContaining({
      extensions: expect.objectContaining({
        code: 'FORBIDDEN',
        details: { reason: 'COMPANY_SUSPENDED' },
      }),
    }),
  ]);
  // Only the liveness check ran: no second status lookup. A query checks in the first round trip
  // of its READ ONLY transaction, which is rolled back unused.
  expect(refused.sql).toHaveLength(2);
  expect(refused.sql[0]).toMatch(/^BEGIN TRANSACTION READ ONLY;/);
  expect(refused.sql[0]).toContain('session_access_status(');
  expect(refused.sql[1]).toMatch(/^ROLLBACK/);

  const viaToken = await statements(apiToken);
  expect(viaToken.errors).toEqual([
    expect.objectContaining({
      extensions: expect.objectContaining({
        code: 'FORBIDDEN',
        details: { reason: 'COMPANY_SUSPENDED' },
      }),
    }),
  ]);
  expect(viaToken.sql.filter((q) => q.includes('platform_company_status'))).toHaveLength(0);

  // A super admin acting in the suspended company is not refused.
  const res = await s.gql(ME, {}, { token: root, headers: { 'x-company-id': w.a.id } });
  expect(res.errors).toBeUndefined();
});
