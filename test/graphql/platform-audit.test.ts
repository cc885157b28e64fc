import { startTestServer, type TestServer } from '../helpers/server';
import { createWorld, type World } from '../helpers/world';

/**
 * Platform-level actions leave a platform audit entry (table platform_audit_log, which only the
 * platform caller role can read or write), readable by super admins through platformAuditLog.
 * Anonymous callers get no schema hints in validation errors.
 */
let s: TestServer;
let w: World;
let root: string;

beforeAll(async () => {
  s = await startTestServer();
  w = await createWorld(s);
  root = await w.login(w.superAdmin.email);
});
afterAll(async () => s.close());

const entries = () =>
  s.t.superuser('platform_audit_log').orderBy([
    { column: 'at', order: 'desc' },
    { column: 'id', order: 'desc' },
  ]);

const CREATE = `mutation ($input: CreatePlatformAdminInput!) {
  createPlatformAdmin(input: $input) { id email }
}`;

test('createPlatformAdmin writes a platform audit entry in the same transaction', async () => {
  const res = await s.gql<{ createPlatformAdmin: { id: string; email: string } }>(
    CREATE,
    { input: { email: 'second@platform.test', name: 'Second', password: 'long-enough-password' } },
    { token: root, headers: { 'x-request-id': 'req-create-admin-1' } },
  );
  expect(res.errors).toBeUndefined();
  const created = res.data!.createPlatformAdmin;
  const [entry] = await entries().where({ action: 'platform_admin.create' });
  expect(entry).toMatchObject({
    actor_type: 'platform_admin',
    actor_id: w.superAdmin.id,
    target_company_id: null,
    details: { createdAdminId: created.id, email: 'second@platform.test' },
    request_id: 'req-create-admin-1',
  });
  expect(entry.ip).toEqual(expect.any(String));

  // A refused creation (duplicate email) writes neither the admin nor an entry.
  const before = (await entries()).length;
  const dup = await s.gql(
    CREATE,
    { input: { email: 'second@platform.test', name: 'Again', password: 'long-enough-password' } },
    { token: root },
  );
  expect(dup.errors?.[0].extensions).toMatchObject({ code: 'CONFLICT', field: 'input.email' });
  expect((await entries()).length).toBe(before);
});

test("a super admin's switch into a company is written to the platform audit log too", async () => {
  const res = await s.gql(
    '{ company { id name } }',
    {},
    { token: root, headers: { 'x-company-id': w.a.id, 'x-request-id': 'req-switch-1' } },
  );
  expect(res.errors).toBeUndefined();
  const [entry] = await entries().where({
    action: 'platform.act_in_company',
    request_id: 'req-switch-1',
  });
  expect(entry).toMatchObject({
    actor_type: 'platform_admin',
    actor_id: w.superAdmin.id,
    target_company_id: w.a.id,
    details: { method: 'POST', path: '/' },
  });
  // And, as before, to the company's own activity log.
  const company = await s.t
    .superuser('activity_logs')
    .where({ company_id: w.a.id, action: 'platform.act_in_company', request_id: 'req-switch-1' });
  expect(company).toHaveLength(1);
  // A company that does not exist: refused, nothing written.
  const before = (await entries()).length;
  const missing = await s.gql(
    '{ company { id } }',
    {},
    {
      token: root,
      headers: { 'x-company-id': '00000000-0000-4000-8000-00000000dead' },
    },
  );
  expect(missing.errors?.[0].extensions?.code).toBe('NOT_FOUND');
  expect((await entries()).length).toBe(before);
});

test("a super admin's sign-in and cross-company reads are written to the platform audit log", async () => {
  const [signIn] = await entries().where({ action: 'platform_admin.sign_in' });
  expect(signIn).toMatchObject({ actor_type: 'platform_admin', actor_id: w.superAdmin.id });
  const res = await s.gql(
    '{ companies { id } }',
    {},
    { token: root, headers: { 'x-request-id': 'req-companies-1' } },
  );
  expect(res.errors).toBeUndefined();
  const [listed] = await entries().where({ request_id: 'req-companies-1' });
  expect(listed).toMatchObject({
    action: 'platform.list_companies',
    actor_id: w.superAdmin.id,
    details: { returned: 2 },
  });
  const events = await s.gql(
    '{ webhookEvents(first: 5, unroutableOnly: true) { edges { cursor } } }',
    {},
    { token: root, headers: { 'x-request-id': 'req-events-1' } },
  );
  expect(events.errors).toBeUndefined();
  const [eventsRead] = await entries().where({ request_id: 'req-events-1' });
  expect(eventsRead).toMatchObject({
    action: 'webhook_event.list_across_companies',
    details: { unroutableOnly: true, returned: 0 },
  });
  // A company user's sign-in is no platform action.
  await w.login(w.a.users.manager.email);
  expect(await entries().where({ action: 'platform_admin.sign_in' })).toHaveLength(1);
});

const LIST = `query ($first: Int!, $after: String) {
  platformAuditLog(first: $first, after: $after) {
    totalCount
    nodes { action actorId targetCompanyId requestId }
    pageInfo { hasNextPage endCursor }
  }
}`;

test('platformAuditLog pages through the trail, newest first, for super admins only', async () => {
  const total = (await entries()).length;
  expect(total).toBeGreaterThanOrEqual(2);
  const first = await s.gql<{ platformAuditLog: any }>(LIST, { first: 1 }, { token: root });
  expect(first.errors).toBeUndefined();
  expect(first.data!.platformAuditLog.totalCount).toBe(total);
  expect(first.data!.platformAuditLog.nodes).toHaveLength(1);
  expect(first.data!.platformAuditLog.pageInfo.hasNextPage).toBe(true);
  const rest = await s.gql<{ platformAuditLog: any }>(
    LIST,
    { first: 100, after: first.data!.platformAuditLog.pageInfo.endCursor },
    { token: root },
  );
  const actions = [...first.data!.platformAuditLog.nodes, ...rest.data!.platformAuditLog.nodes].map(
    (n: { requestId: string }) => n.requestId,
  );
  expect(actions).toEqual((await entries()).map((e) => e.request_id));

  // Bad input: a clear error with its field, never INTERNAL.
  const bad = await s.gql(LIST, { first: 1, after: 'not-a-cursor' }, { token: root });
  expect(bad.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
  const big = await s.gql(LIST, { first: 1000 }, { token: root });
  expect(big.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'first' });

  // A company admin, even one naming its own company, cannot read it; neither can anonymous.
  const admin = await w.login(w.a.users.admin.email);
  const refused = await s.gql(LIST, { first: 10 }, { token: admin });
  expect(refused.errors?.[0].extensions?.code).toBe('FORBIDDEN');
  expect(refused.data?.platformAuditLog ?? null).toBeNull();
  const anonymous = await s.gql(LIST, { first: 10 });
  expect(['FORBIDDEN', 'UNAUTHENTICATED']).toContain(anonymous.errors?.[0].extensions?.code);
});

test('the runtime role cannot read or write the platform audit log', async () => {
  await expect(s.t.db.knex('platform_audit_log').select('id')).rejects.toMatchObject({
    code: '42501',
  });
  await expect(
    s.t.db.knex('platform_audit_log').insert({ actor_type: 'system', action: 'forged' }),
  ).rejects.toMatchObject({ code: '42501' });
  // The platform caller role appends but never rewrites history.
  await expect(s.t.db.platform('platform_audit_log').del()).rejects.toMatchObject({
    code: '42501',
  });
  await expect(
    s.t.db.platform('platform_audit_log').update({ action: 'rewritten' }),
  ).rejects.toMatchObject({ code: '42501' });
});

describe('schema hints', () => {
  const TYPO = '{ compny { id } }';
  test('an anonymous validation error carries no "Did you mean" suggestion', async () => {
    const res = await s.gql(TYPO);
    expect(res.errors?.[0].extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(res.errors?.[0].message).toBe('Cannot query field "compny" on type "Query".');
    const variables = await s.gql(
      'mutation ($input: LoginInput!) { login(input: $input) { accessToken } }',
      { input: { emial: 'x@y.test', password: 'x' } },
    );
    expect(variables.errors?.length).toBeGreaterThan(0);
    for (const e of [...res.errors!, ...variables.errors!]) {
      expect(e.message).not.toMatch(/Did you mean/);
    }
  });

  test('a signed-in caller may get the suggestion', async () => {
    const token = await w.login(w.a.users.admin.email);
    const res = await s.gql(TYPO, {}, { token });
    expect(res.errors?.[0].message).toMatch(/Did you mean "company"/);
  });
});
