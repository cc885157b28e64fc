import { currentObservation } from '../../src/observability/context';
import { startTestServer, type TestServer } from '../helpers/server';
import { createWorld, globalId, type World } from '../helpers/world';

/**
 * Static limits: expensive or hostile operations are refused with a clear error naming the limit,
 * before authentication and before any SQL statement runs.
 */
let s: TestServer;
let w: World;
let staff: string;
let admin: string;

beforeAll(async () => {
  s = await startTestServer();
  w = await createWorld(s);
  staff = await w.login(w.a.users.staff.email);
  admin = await w.login(w.a.users.admin.email);
});
afterAll(async () => s.close());

interface Answer {
  status: number;
  headers: Headers;
  body: { data?: unknown; errors?: Array<{ message: string; extensions?: Record<string, any> }> };
  statements: number;
}

/**
 * Sends a request and counts the SQL statements the server ran while answering an HTTP request
 * (the webhook worker polling in the background is not part of it).
 */
async function send(body: unknown, token = staff): Promise<Answer> {
  let statements = 0;
  const count = () => {
    if (currentObservation()) statements += 1;
  };
  s.t.db.knex.on('query', count);
  try {
    const res = await fetch(`${s.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });
    return {
      status: res.status,
      headers: res.headers,
      body: (await res.json()) as any,
      statements,
    };
  } finally {
    s.t.db.knex.off('query', count);
  }
}

function expectRefused(answer: Answer, limit: string, status = 400) {
  expect(answer.status).toBe(status);
  expect(answer.body.data).toBeUndefined();
  expect(answer.body.errors).toHaveLength(1);
  expect(answer.body.errors?.[0].extensions).toMatchObject({ code: 'QUERY_LIMIT_EXCEEDED', limit });
  expect(answer.body.errors?.[0].message).toMatch(/limit|cycle|Batched/);
  expect(JSON.stringify(answer.body)).not.toMatch(/stack|select |at \//i);
  expect(answer.statements).toBe(0);
}

const slots = (alias: string, serviceId: string, first = 100) =>
  `${alias}: availableSlots(serviceId: "${serviceId}", from: "2026-12-01", to: "2026-12-31", stepMinutes: 5, first: ${first}) { slots { startsAt endsAt start staff { id name } } }`;

test('the availableSlots alias attack (80 aliases, 31 days, 5-minute steps) is refused before any SQL', async () => {
  const serviceId = globalId('Service', w.a.id, w.a.serviceId);
  const attack = `{ ${Array.from({ length: 80 }, (_, i) => slots(`a${i}`, serviceId)).join('\n')} }`;
  expect(attack.length).toBeGreaterThan(15_000);
  const answer = await send({ query: attack });
  // 80 aliases exceed the alias limit; the document is refused as it stands.
  expectRefused(answer, 'aliases');
  expect(answer.body.errors?.[0].extensions).toMatchObject({ max: 30, actual: 80 });

  // Under the alias limit the same calls are refused by their cost: each is a page of 100 slots
  // (× the selection) plus the walk over 31 days × 5 staff.
  const fewer = `{ ${Array.from({ length: 30 }, (_, i) => slots(`a${i}`, serviceId)).join('\n')} }`;
  const priced = await send({ query: fewer });
  expectRefused(priced, 'cost');
  expect(priced.body.errors?.[0].extensions).toMatchObject({ max: 10_000 });
  expect(priced.body.errors?.[0].extensions?.actual).toBe(30 * (1 + 31 * 5 + 100 * 2));

  // A page larger than the maximum is refused, naming first, before any SQL.
  const huge = await send({ query: `{ ${slots('only', serviceId, 5000)} }` });
  expect(huge.body.errors?.[0].extensions).toMatchObject({
    code: 'BAD_USER_INPUT',
    field: 'first',
  });
  expect(huge.statements).toBe(0);

  // One call is bounded by its page, so it is answered: at most 100 slots.
  const one = await send({ query: `{ ${slots('only', serviceId)} }` }, admin);
  expect(one.body.errors).toBeUndefined();
  const answered = (one.body.data as { only: { slots: unknown[] } }).only.slots;
  expect(answered.length).toBeGreaterThan(0);
  expect(answered.length).toBeLessThanOrEqual(100);
});

test('a deep query is refused before any SQL', async () => {
  let selection = '{ id }';
  for (let i = 0; i < 15; i += 1) selection = `{ rescheduledFrom ${selection} }`;
  const answer = await send({ query: `{ appointments(first: 1) { nodes ${selection} } }` });
  expectRefused(answer, 'depth');
  expect(answer.body.errors?.[0].extensions?.max).toBe(12);
});

test('an alias flood is refused before any SQL', async () => {
  const query = `{ ${Array.from({ length: 200 }, (_, i) => `m${i}: me { name }`).join(' ')} }`;
  expectRefused(await send({ query }), 'aliases');
});

test('too many directives are refused before any SQL', async () => {
  const directives = Array.from({ length: 60 }, () => '@include(if: true)').join(' ');
  expectRefused(await send({ query: `{ me ${directives} { name } }` }), 'directives');
});

test('too many tokens are refused before any SQL', async () => {
  const query = `{ me { ${Array.from({ length: 3100 }, () => 'name').join(' ')} } }`;
  expect(Buffer.byteLength(query)).toBeLessThan(32 * 1024);
  expectRefused(await send({ query }), 'tokens');
});

test('an oversized document is refused before any SQL', async () => {
  const query = `{ me { name } } ${'#'.repeat(40 * 1024)}`;
  const answer = await send({ query });
  expectRefused(answer, 'documentSize', 413);
  expect(answer.body.errors?.[0].extensions).toMatchObject({ max: 32 * 1024 });
});

test('a huge first is refused with the field named, before any SQL', async () => {
  const answer = await send({
    query: 'query($n: Int!) { appointments(first: $n) { nodes { id } } }',
    variables: { n: 1_000_000 },
  });
  expect(answer.status).toBe(400);
  expect(answer.body.errors?.[0].extensions).toMatchObject({
    code: 'BAD_USER_INPUT',
    field: 'first',
  });
  expect(answer.statements).toBe(0);
});

test('a fragment cycle is refused before any SQL', async () => {
  const query = `
    fragment A on Appointment { id rescheduledFrom { ...B } }
    fragment B on Appointment { id rescheduledFrom { ...A } }
    { appointments(first: 1) { nodes { ...A } } }`;
  const answer = await send({ query });
  expectRefused(answer, 'fragmentCycle');
});

test('batched requests are refused', async () => {
  const answer = await send([{ query: '{ me { name } }' }, { query: '{ me { name } }' }]);
  expectRefused(answer, 'batching');
});

test('nested connections multiply: a page of 100 inside a page of 100 is refused', async () => {
  const answer = await send(
    {
      query:
        '{ customers(first: 100) { nodes { name notes(first: 100) { nodes { body author { name } } } } } }',
    },
    admin,
  );
  expectRefused(answer, 'cost');
});

test('limit hits are counted with the company of a valid access token', async () => {
  await send({
    query: `{ ${Array.from({ length: 40 }, (_, i) => `m${i}: me { name }`).join(' ')} }`,
  });
  await new Promise((r) => setTimeout(r, 50));
  const text = await s.server.deps.metrics.registry.getSingleMetricAsString(
    'app_graphql_limit_hits_total',
  );
  expect(text).toContain(`app_graphql_limit_hits_total{limit="aliases",company_id="${w.a.id}"}`);
  expect(text).toMatch(/limit="documentSize"/);
});

test('an ordinary page passes, priced in extensions.cost and the RateLimit headers', async () => {
  const answer = await send(
    {
      query: '{ appointments(first: 10) { totalCount nodes { id startsAt customer { name } } } }',
    },
    admin,
  );
  expect(answer.status).toBe(200);
  expect(answer.body.errors).toBeUndefined();
  expect(answer.statements).toBeGreaterThan(0); // the counter sees the statements of a request
  const cost = (answer.body as any).extensions.cost;
  expect(cost.requestedQueryCost).toBe(1 + 10 * (1 + 1 + 1));
  // The connection, and each appointment with its customer.
  const nodes = (answer.body.data as any).appointments.nodes as Array<{ customer: unknown }>;
  expect(nodes.length).toBeGreaterThan(0);
  expect(cost.actualQueryCost).toBe(
    1 + nodes.length + nodes.filter((n) => n.customer !== null).length,
  );
  expect(cost.throttleStatus).toMatchObject({ scope: 'company', maximumAvailable: 500_000 });
  expect(answer.headers.get('ratelimit-limit')).toBe('500000');
  expect(Number(answer.headers.get('ratelimit-remaining'))).toBe(
    cost.throttleStatus.currentlyAvailable,
  );
  expect(answer.headers.get('ratelimit-policy')).toBe('500000;w=3600');
});
