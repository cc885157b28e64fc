import { startTestServer, type TestServer } from '../helpers/server';
import { createWorld, PASSWORD, type World } from '../helpers/world';
import { postRetell, RETELL_KEY, retellEvent, waitFor } from '../webhooks/helpers';

/**
 * A suspended company: every entry point refuses its users and tokens with FORBIDDEN and reason
 * COMPANY_SUSPENDED, its webhooks are stored but wait, and reactivation brings everything back.
 */
let s: TestServer;
let w: World;
let root: string;
let adminA: string;
let refreshA: string;
let apiTokenA: string;
let adminB: string;

const SUSPEND = 'mutation($id: ID!) { suspendCompany(companyId: $id) { id suspendedAt } }';
const REACTIVATE = 'mutation($id: ID!) { reactivateCompany(companyId: $id) { id suspendedAt } }';
const LOGIN =
  'mutation($e: String!, $p: String!) { login(input: { email: $e, password: $p }) { accessToken refreshToken } }';

beforeAll(async () => {
  s = await startTestServer({ retellApiKeys: [RETELL_KEY], webhookRateLimitPerMinute: 100_000 });
  w = await createWorld(s);
  root = await w.login(w.superAdmin.email);
  const login = await s.gql(LOGIN, { e: w.a.users.admin.email, p: PASSWORD });
  adminA = login.data!.login.accessToken;
  refreshA = login.data!.login.refreshToken;
  adminB = await w.login(w.b.users.admin.email);
  const token = await s.gql(
    'mutation { createApiToken(input: { name: "reporting", scopes: ["appointments:read"] }) { token } }',
    {},
    { token: adminA },
  );
  expect(token.errors).toBeUndefined();
  apiTokenA = token.data!.createApiToken.token;
  const [agent] = await s.t
    .superuser('retell_agents')
    .insert({ company_id: w.a.id, agent_id: 'agent-alpha', name: 'Front desk' })
    .returning('id');
  await s.t.superuser('phone_numbers').insert({
    company_id: w.a.id,
    number_e164: '+4930111222',
    retell_agent_id: agent.id,
  });
});
afterAll(async () => s.close());

const suspendedError = (res: { errors?: Array<{ extensions?: Record<string, any> }> }) => {
  expect(res.errors?.[0].extensions?.code).toBe('FORBIDDEN');
  expect(JSON.stringify(res.errors?.[0].extensions)).toContain('COMPANY_SUSPENDED');
};

test('only a super admin suspends; unknown and malformed ids are refused clearly', async () => {
  const byAdmin = await s.gql(SUSPEND, { id: w.a.id }, { token: adminA });
  expect(byAdmin.errors?.[0].extensions?.code).toBe('FORBIDDEN');
  const unknown = await s.gql(
    SUSPEND,
    { id: '00000000-0000-4000-8000-000000000000' },
    { token: root },
  );
  expect(unknown.errors?.[0].extensions).toMatchObject({ code: 'NOT_FOUND', field: 'companyId' });
  const bad = await s.gql(SUSPEND, { id: 'not-a-uuid' }, { token: root });
  expect(bad.errors?.[0].extensions).toMatchObject({
    code: 'BAD_USER_INPUT',
    field: 'companyId',
  });
});

test('suspended: users, API tokens, sign-in and refresh are refused; webhooks wait; B is untouched', async () => {
  const suspended = await s.gql(SUSPEND, { id: w.a.id }, { token: root });
  expect(suspended.errors).toBeUndefined();
  expect(suspended.data?.suspendCompany.suspendedAt).not.toBeNull();

  // Access token, every kind of operation.
  suspendedError(await s.gql('{ me { name } }', {}, { token: adminA }));
  suspendedError(await s.gql('{ customers(first: 5) { totalCount } }', {}, { token: adminA }));
  suspendedError(
    await s.gql(
      'mutation { createCustomer(input: { name: "X", phone: "+4917099999999" }) { id } }',
      {},
      { token: adminA },
    ),
  );
  // API token.
  suspendedError(
    await s.gql('{ appointments(first: 5) { totalCount } }', {}, { token: apiTokenA }),
  );
  // Sign-in and refresh.
  suspendedError(await s.gql(LOGIN, { e: w.a.users.staff.email, p: PASSWORD }));
  suspendedError(
    await s.gql('mutation($r: String!) { refreshToken(refreshToken: $r) { accessToken } }', {
      r: refreshA,
    }),
  );
  // A wrong password still answers the usual error: suspension reveals nothing without it.
  const wrong = await s.gql(LOGIN, { e: w.a.users.staff.email, p: 'wrong-password-123' });
  expect(wrong.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');

  // Company B works as before.
  const b = await s.gql('{ customers(first: 5) { totalCount } }', {}, { token: adminB });
  expect(b.errors).toBeUndefined();
  // A super admin can still look inside (to export or offboard).
  const inside = await s.gql(
    '{ customers(first: 5) { totalCount } }',
    {},
    { token: root, headers: { 'x-company-id': w.a.id } },
  );
  expect(inside.errors).toBeUndefined();

  // A webhook for A is stored and acknowledged, but not applied while A is suspended.
  const res = await postRetell(
    s.url,
    retellEvent('call_started', {
      call_id: 'call-during-suspension',
      agent_id: 'agent-alpha',
      to_number: '+4930111222',
      from_number: '+4917055500001',
    }),
  );
  expect(res.status).toBeLessThan(300);
  const waiting = await waitFor(async () => {
    const row = await s.t
      .superuser('webhook_events')
      .where({ dedupe_key: 'call-during-suspension:call_started' })
      .orWhereRaw("payload_raw like '%call-during-suspension%'")
      .first();
    return row && row.resolved_company_id === w.a.id && row.status === 'pending' ? row : null;
  });
  expect(waiting.last_error).toMatch(/suspended/);
  expect(waiting.attempts).toBe(0);
  expect(await s.t.superuser('calls').where({ retell_call_id: 'call-during-suspension' })).toEqual(
    [],
  );
  // It stays waiting: the worker does not claim it again.
  await new Promise((r) => setTimeout(r, 1500));
  const still = await s.t.superuser('webhook_events').where({ id: waiting.id }).first();
  expect(still.status).toBe('pending');
  expect(still.attempts).toBe(0);

  // Reactivation: tokens work again and the waiting event is applied.
  const back = await s.gql(REACTIVATE, { id: w.a.id }, { token: root });
  expect(back.errors).toBeUndefined();
  expect(back.data?.reactivateCompany.suspendedAt).toBeNull();
  const me = await s.gql('{ me { name } }', {}, { token: adminA });
  expect(me.errors).toBeUndefined();
  const viaToken = await s.gql(
    '{ appointments(first: 5) { totalCount } }',
    {},
    { token: apiTokenA },
  );
  expect(viaToken.errors).toBeUndefined();
  const applied = await waitFor(async () => {
    const row = await s.t.superuser('webhook_events').where({ id: waiting.id }).first();
    return row.status === 'processed' ? row : null;
  });
  expect(applied.status).toBe('processed');
  const calls = await s.t.superuser('calls').where({ retell_call_id: 'call-during-suspension' });
  expect(calls.map((c) => c.company_id)).toEqual([w.a.id]);

  // Audited on the platform and in the company.
  const platform = await s.t
    .superuser('platform_audit_log')
    .where({ target_company_id: w.a.id })
    .whereLike('action', 'company.%')
    .orderBy('at')
    .pluck('action');
  expect(platform).toEqual(['company.suspend', 'company.reactivate']);
  const company = await s.t
    .superuser('activity_logs')
    .where({ company_id: w.a.id })
    .whereIn('action', ['company.suspend', 'company.reactivate'])
    .pluck('action');
  expect(company.sort()).toEqual(['company.reactivate', 'company.suspend']);
  // The refusals are counted.
  const metrics = await s.server.deps.metrics.registry.getSingleMetricAsString(
    'app_company_suspended_refusals_total',
  );
  expect(Number(/ (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(6);
});
