import { readFileSync } from 'node:fs';
import { startTestServer, type TestServer } from '../helpers/server';
import { createWorld, globalId, type World } from '../helpers/world';
import { printAppSchema, SCHEMA_FILE } from '../../src/graphql/print';

let s: TestServer;
let w: World;
let admin: string;

beforeAll(async () => {
  s = await startTestServer();
  w = await createWorld(s);
  admin = await w.login(w.a.users.admin.email);
});
afterAll(async () => s.close());

const noLeak = (body: unknown) => {
  const text = JSON.stringify(body);
  expect(text).not.toMatch(
    /stacktrace|select |insert into|violates|node_modules|\bat [A-Za-z.]+ \(/i,
  );
};

test('schema/schema.graphql matches the code (run npm run schema:emit after a change)', () => {
  expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(printAppSchema());
});

test('page sizes: first or last is required and capped at 100', async () => {
  const none = await s.gql('{ customers { totalCount } }', {}, { token: admin });
  expect(none.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'first' });
  const big = await s.gql('{ customers(first: 101) { totalCount } }', {}, { token: admin });
  expect(big.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'first' });
  const both = await s.gql('{ customers(first: 1, last: 1) { totalCount } }', {}, { token: admin });
  expect(both.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
});

test('keyset pages forward and backward cover every row once', async () => {
  const db = s.t.superuser;
  await db('customers').insert(
    Array.from({ length: 25 }, (_, i) => ({
      company_id: w.a.id,
      name: `Pager ${String(i).padStart(2, '0')}`,
    })),
  );
  const seen: string[] = [];
  let after: string | null = null;
  for (;;) {
    const res: any = await s.gql(
      'query($a: String) { customers(first: 10, after: $a, filter: { search: "Pager" }) { nodes { name } pageInfo { hasNextPage endCursor } } }',
      { a: after },
      { token: admin },
    );
    seen.push(...res.data.customers.nodes.map((n: { name: string }) => n.name));
    if (!res.data.customers.pageInfo.hasNextPage) break;
    after = res.data.customers.pageInfo.endCursor;
  }
  expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => `Pager ${String(i).padStart(2, '0')}`));
  const last = await s.gql(
    '{ customers(last: 3, filter: { search: "Pager" }) { nodes { name } pageInfo { hasPreviousPage } } }',
    {},
    { token: admin },
  );
  expect(last.data?.customers.nodes.map((n: { name: string }) => n.name)).toEqual([
    'Pager 22',
    'Pager 23',
    'Pager 24',
  ]);
  expect(last.data?.customers.pageInfo.hasPreviousPage).toBe(true);
});

test('bad input names the field; nothing stored', async () => {
  const res = await s.gql(
    'mutation { createCustomer(input: { name: "Phone", phone: "12" }) { id } }',
    {},
    { token: admin },
  );
  expect(res.errors?.[0].extensions).toMatchObject({
    code: 'BAD_USER_INPUT',
    field: 'input.phone',
  });
  expect(await s.t.superuser('customers').where({ name: 'Phone' })).toHaveLength(0);
  const empty = await s.gql(
    'mutation { createBranch(input: { name: "  " }) { id } }',
    {},
    { token: admin },
  );
  expect(empty.errors?.[0].extensions).toMatchObject({
    code: 'BAD_USER_INPUT',
    field: 'input.name',
  });
  const badId = await s.gql('{ node(id: "not-an-id") { id } }', {}, { token: admin });
  expect(badId.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'id' });
  const badEmail = await s.gql(
    'mutation($e: EmailAddress) { createCustomer(input: { name: "E", email: $e }) { id } }',
    { e: 'nope' },
    { token: admin },
  );
  expect(badEmail.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
  noLeak(badEmail);
});

test('a duplicate is CONFLICT naming the field, without SQL in the answer', async () => {
  const res = await s.gql(
    'mutation { createCustomer(input: { name: "Dup", phone: "+49 170 12345678" }) { id } }',
    {},
    { token: admin },
  );
  expect(res.errors?.[0].extensions).toMatchObject({ code: 'CONFLICT', field: 'input.phone' });
  noLeak(res);
});

test('deleting an unknown row is NOT_FOUND', async () => {
  const res = await s.gql(
    'mutation($id: ID!) { deleteWorkingHour(id: $id) }',
    { id: globalId('WorkingHour', w.a.id, w.a.staffId) },
    { token: admin },
  );
  expect(res.errors?.[0].extensions?.code).toBe('NOT_FOUND');
});

test('errors carry the request id that the response header carries', async () => {
  const res = await fetch(`${s.url}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-request-id': 'test-request-0001',
      authorization: `Bearer ${admin}`,
    },
    body: JSON.stringify({ query: '{ customers(first: 0) { totalCount } }' }),
  });
  const body = (await res.json()) as { errors: { extensions: Record<string, unknown> }[] };
  expect(res.headers.get('x-request-id')).toBe('test-request-0001');
  expect(body.errors[0].extensions.requestId).toBe('test-request-0001');
});

test('syntax errors and unknown fields answer 400 with a code, no stack', async () => {
  const parse = await s.gql('{ customers(first: 1 { totalCount } }', {}, { token: admin });
  expect(parse.status).toBe(400);
  expect(parse.errors?.[0].extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
  const unknown = await s.gql('{ nope }', {}, { token: admin });
  expect(unknown.errors?.[0].extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
  noLeak(parse);
  noLeak(unknown);
});

test('an unexpected failure is INTERNAL with a generic message', async () => {
  // The customers table disappears under the running server (as after a bad deploy).
  await s.t.superuser.raw('alter table customer_notes rename to customer_notes_moved');
  try {
    const res = await s.gql(
      'query($id: ID!) { node(id: $id) { ... on Customer { notes(first: 1) { totalCount } } } }',
      { id: globalId('Customer', w.a.id, w.a.customerId) },
      { token: admin },
    );
    expect(res.errors?.[0].message).toBe('Internal error');
    expect(res.errors?.[0].extensions?.code).toBe('INTERNAL');
    expect(res.errors?.[0].extensions?.requestId).toBeDefined();
    noLeak(res);
  } finally {
    await s.t.superuser.raw('alter table customer_notes_moved rename to customer_notes');
  }
});

test('GET queries work; introspection needs a signed-in caller', async () => {
  const q = encodeURIComponent('{ me { actorType } }');
  const get = await fetch(`${s.url}/graphql?query=${q}`, {
    headers: { authorization: `Bearer ${admin}` },
  });
  expect(((await get.json()) as any).data.me.actorType).toBe('USER');
  const anon = await s.gql('{ __schema { queryType { name } } }');
  expect(anon.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
  const signed = await s.gql('{ __schema { queryType { name } } }', {}, { token: admin });
  expect(signed.data?.__schema.queryType.name).toBe('Query');
});

test('health and readiness', async () => {
  expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
  const ready = await fetch(`${s.url}/readyz`);
  expect(ready.status).toBe(200);
  expect(await ready.json()).toEqual({ status: 'ready' });
});
