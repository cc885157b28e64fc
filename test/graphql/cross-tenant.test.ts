import { startTestServer, type TestServer } from '../helpers/server';
import { createWorld, globalId, type World } from '../helpers/world';

/**
 * Every way of naming another company's data, as company A's admin, answers NOT_FOUND or
 * FORBIDDEN (or null for `node`), changes nothing, and is counted as a cross-tenant attempt.
 */
let s: TestServer;
let w: World;
let tokenA: string;

const attempts = async (path: string): Promise<number> => {
  const metric = await s.server.deps.metrics.crossTenantAttempts.get();
  return metric.values.find((v) => v.labels.path === path)?.value ?? 0;
};

beforeAll(async () => {
  s = await startTestServer();
  w = await createWorld(s);
  tokenA = await w.login(w.a.users.admin.email);
});
afterAll(async () => s.close());

test('a foreign global id in node() is null and counted', async () => {
  const before = await attempts('graphql_node');
  const id = globalId('Customer', w.b.id, w.b.customerId);
  const res = await s.gql('query($id: ID!) { node(id: $id) { id } }', { id }, { token: tokenA });
  expect(res.errors).toBeUndefined();
  expect(res.data?.node).toBeNull();
  expect(await attempts('graphql_node')).toBe(before + 1);
});

test("B's row id under A's company prefix is simply not found (row level security)", async () => {
  const forged = globalId('Customer', w.a.id, w.b.customerId);
  const res = await s.gql(
    'query($id: ID!) { node(id: $id) { id } }',
    { id: forged },
    { token: tokenA },
  );
  expect(res.data?.node).toBeNull();
});

test('a foreign id in a mutation argument is NOT_FOUND, counted, and changes nothing', async () => {
  const before = await attempts('graphql_id');
  const res = await s.gql(
    'mutation($id: ID!) { updateCustomer(input: { id: $id, name: "Hijacked" }) { id } }',
    { id: globalId('Customer', w.b.id, w.b.customerId) },
    { token: tokenA },
  );
  expect(res.errors?.[0].extensions).toMatchObject({ code: 'NOT_FOUND', field: 'input.id' });
  expect(await attempts('graphql_id')).toBe(before + 1);
  const row = await s.t.superuser('customers').where({ id: w.b.customerId }).first();
  expect(row.name).toBe('Customer beta');
});

test("a forged id with A's prefix and B's row cannot update B's row", async () => {
  const res = await s.gql(
    'mutation($id: ID!) { updateCustomer(input: { id: $id, name: "Hijacked" }) { id } }',
    { id: globalId('Customer', w.a.id, w.b.customerId) },
    { token: tokenA },
  );
  expect(res.errors?.[0].extensions?.code).toBe('NOT_FOUND');
  const row = await s.t.superuser('customers').where({ id: w.b.customerId }).first();
  expect(row.name).toBe('Customer beta');
});

test('a foreign id as a relation (filter or reference) is NOT_FOUND', async () => {
  const filter = await s.gql(
    'query($id: ID!) { appointments(first: 5, filter: { staffId: $id }) { totalCount } }',
    { id: globalId('Staff', w.b.id, w.b.staffId) },
    { token: tokenA },
  );
  expect(filter.errors?.[0].extensions).toMatchObject({
    code: 'NOT_FOUND',
    field: 'filter.staffId',
  });

  const reference = await s.gql(
    'mutation($b: ID!) { createStaff(input: { name: "X", branchId: $b }) { id } }',
    { b: globalId('Branch', w.a.id, w.b.branchId) },
    { token: tokenA },
  );
  // The composite foreign key (company_id, branch_id) refuses B's branch.
  expect(reference.errors?.[0].extensions).toMatchObject({
    code: 'NOT_FOUND',
    field: 'input.branchId',
  });
  expect(await s.t.superuser('staff').where({ name: 'X' })).toHaveLength(0);
});

test("a cursor taken from another company's page is NOT_FOUND and counted", async () => {
  const tokenB = await w.login(w.b.users.admin.email);
  const page = await s.gql<{ customers: { pageInfo: { endCursor: string } } }>(
    '{ customers(first: 1) { pageInfo { endCursor } } }',
    {},
    { token: tokenB },
  );
  const cursor = page.data!.customers.pageInfo.endCursor;
  const before = await attempts('graphql_cursor');
  const res = await s.gql(
    'query($c: String!) { customers(first: 5, after: $c) { totalCount } }',
    { c: cursor },
    { token: tokenA },
  );
  expect(res.errors?.[0].extensions).toMatchObject({ code: 'NOT_FOUND', field: 'after' });
  expect(await attempts('graphql_cursor')).toBe(before + 1);
});

test("naming company B in X-Company-Id as A's admin is FORBIDDEN and counted", async () => {
  const before = await attempts('company_header');
  const res = await s.gql(
    '{ customers(first: 5) { totalCount } }',
    {},
    {
      token: tokenA,
      headers: { 'x-company-id': w.b.id },
    },
  );
  expect(res.status).toBe(403);
  expect(res.errors?.[0].extensions?.code).toBe('FORBIDDEN');
  expect(await attempts('company_header')).toBe(before + 1);
});

test('a super admin acts in a company only by naming it, and each request is audited', async () => {
  const root = await w.login(w.superAdmin.email);
  const none = await s.gql('{ customers(first: 5) { totalCount } }', {}, { token: root });
  expect(none.errors?.[0].extensions?.code).toBe('FORBIDDEN');

  const switches =
    (await s.server.deps.metrics.superAdminTenantSwitches.get()).values[0]?.value ?? 0;
  const res = await s.gql<{ customers: { totalCount: number; nodes: { name: string }[] } }>(
    '{ customers(first: 5) { totalCount nodes { name } } }',
    {},
    { token: root, headers: { 'x-company-id': w.b.id } },
  );
  expect(res.errors).toBeUndefined();
  expect(res.data!.customers.nodes.map((c) => c.name)).toEqual(['Customer beta']);
  const logs = await s.t.superuser('activity_logs').where({
    company_id: w.b.id,
    action: 'platform.act_in_company',
    actor_id: w.superAdmin.id,
  });
  expect(logs.length).toBeGreaterThanOrEqual(1);
  expect((await s.server.deps.metrics.superAdminTenantSwitches.get()).values[0].value).toBe(
    switches + 1,
  );
});

test('every list answers only the own company rows', async () => {
  const lists = [
    'branches',
    'staffMembers',
    'services',
    'customers',
    'appointments',
    'calls',
    'users',
  ];
  for (const list of lists) {
    const res = await s.gql<Record<string, { nodes: { id: string }[] }>>(
      `{ ${list}(first: 100) { nodes { id } } }`,
      {},
      { token: tokenA },
    );
    expect(res.errors).toBeUndefined();
    for (const node of res.data![list].nodes) {
      const decoded = Buffer.from(node.id, 'base64url').toString().split(':');
      expect([list, decoded[1]]).toEqual([list, w.a.id]);
    }
  }
});
