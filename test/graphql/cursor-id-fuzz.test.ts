import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { requestStorage } from '../../src/observability/context';
import { startTestServer, type GraphQLResult, type TestServer } from '../helpers/server';
import { createWorld, globalId, type World } from '../helpers/world';

/**
 * Malformed, forged and wrong-typed cursors and global ids are BAD_USER_INPUT naming the argument,
 * refused before any SQL (not even the transaction is opened), never INTERNAL. A forged cursor
 * value (`"v": "not-a-date"`, `1e308`, `"i": "not-a-uuid"`) once reached Postgres, failed there
 * and aborted the request's transaction.
 */
let s: TestServer;
let w: World;
let token: string;
let customerId: string;

const RUNS = Number(process.env.FUZZ_RUNS ?? 60);

beforeAll(async () => {
  s = await startTestServer();
  w = await createWorld(s);
  token = await w.login(w.a.users.admin.email);
  customerId = globalId('Customer', w.a.id, w.a.customerId);
});
afterAll(async () => s.close());

/** Runs one request and returns its answer and the SQL statements the server ran for it. */
async function run(
  query: string,
  variables: Record<string, unknown>,
): Promise<{ res: GraphQLResult; statements: string[] }> {
  const requestId = `fuzz-${randomUUID()}`;
  const statements: string[] = [];
  const listener = (q: { sql?: string }) => {
    if (requestStorage.getStore()?.requestId === requestId) statements.push(q.sql ?? '');
  };
  s.t.db.knex.on('query', listener);
  try {
    const res = await s.gql(query, variables, { token, headers: { 'x-request-id': requestId } });
    return { res, statements };
  } finally {
    s.t.db.knex.off('query', listener);
  }
}

/** Statements a request costs without the field under test (authentication, the parent row). */
const baselines = new Map<string, number>();
async function baseline(query: string, variables: Record<string, unknown> = {}): Promise<number> {
  const key = `${query}${JSON.stringify(variables)}`;
  if (!baselines.has(key)) {
    const { res, statements } = await run(query, variables);
    expect(res.errors).toBeUndefined();
    baselines.set(key, statements.length);
  }
  return baselines.get(key)!;
}

function expectBadInput(res: GraphQLResult, field: string, detail: () => string): void {
  const error = res.errors?.[0];
  if (
    res.status !== 200 ||
    res.errors?.length !== 1 ||
    error?.extensions?.code !== 'BAD_USER_INPUT' ||
    error.extensions.field !== field
  ) {
    throw new Error(
      `expected BAD_USER_INPUT on ${field} for ${detail()}, got ${res.status} ${JSON.stringify(res.errors)}`,
    );
  }
}

const encode = (value: unknown): string =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// ---- cursors ---------------------------------------------------------------------------------

interface CursorTarget {
  name: string;
  query: string;
  arg: 'after' | 'before';
  key: string;
  timestamp: boolean;
  /** The same request without the connection: what the request costs before the cursor. */
  base: string;
}

const cursorTargets: CursorTarget[] = [
  {
    name: 'customers(after)',
    query: 'query($c: String) { customers(first: 1, after: $c) { totalCount } }',
    arg: 'after',
    key: 'name',
    timestamp: false,
    base: '{ __typename }',
  },
  {
    name: 'appointments(before)',
    query: 'query($c: String) { appointments(last: 1, before: $c) { totalCount } }',
    arg: 'before',
    key: 'starts_at',
    timestamp: true,
    base: '{ __typename }',
  },
  {
    name: 'callbackRequests(after)',
    query: 'query($c: String) { callbackRequests(first: 1, after: $c) { nodes { id } } }',
    arg: 'after',
    key: 'due_at',
    timestamp: true,
    base: '{ __typename }',
  },
  {
    name: 'Customer.notes(after), nested',
    query: `query($c: String, $id: ID!) { node(id: $id) { ... on Customer {
              name notes(first: 1, after: $c) { totalCount } } } }`,
    arg: 'after',
    key: 'created_at',
    timestamp: true,
    base: 'query($id: ID!) { node(id: $id) { ... on Customer { name } } }',
  },
];

const validTimestamp = (v: unknown): boolean =>
  typeof v === 'string' &&
  /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/.test(v) &&
  !Number.isNaN(Date.parse(v)) &&
  new Date(v).toISOString().slice(0, 19) === v.slice(0, 19) &&
  !v.startsWith('0000');
const validText = (v: unknown): boolean =>
  typeof v === 'string' && v.length <= 500 && !v.includes('\u0000');

/** Cursors that must be refused as bad input for an order key. */
function badCursors(target: CursorTarget): fc.Arbitrary<string> {
  const validValue = target.timestamp ? validTimestamp : validText;
  const anyValue = fc.oneof(
    fc.string(),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.constantFrom(
      'not-a-date',
      '2026-02-30T10:00:00.000Z',
      '2026-13-01T00:00:00Z',
      '0000-01-01T00:00:00.000Z',
      '1970-01-01T00:00:00.000Z\u0000',
      'x'.repeat(600),
      '\u0000',
    ),
    fc.double(),
    fc.constantFrom(1e308, -1e308, Number.MAX_VALUE, 0, -0),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.integer(), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 3 }), fc.integer(), { maxKeys: 2 }),
  );
  const anyId = fc.oneof(
    fc.uuid(),
    fc.constantFrom('not-a-uuid', '', "' or 1=1 --", '00000000-0000-0000-0000-00000000000g'),
    fc.string(),
    fc.integer(),
    fc.constant(null),
  );
  const forged = fc
    .record({
      c: fc.oneof(
        { weight: 4, arbitrary: fc.constant(w.a.id) },
        fc.constant(w.a.id.toUpperCase()),
        fc.integer(),
        fc.string(),
      ),
      k: fc.oneof(
        { weight: 4, arbitrary: fc.constant(target.key) },
        fc.constantFrom('Name', 'name;drop', '', 'x'.repeat(80)),
        fc.integer(),
      ),
      v: fc.oneof(
        anyValue,
        target.timestamp
          ? fc.date({ noInvalidDate: true }).map((d) => d.toISOString())
          : fc.string(),
      ),
      i: anyId,
    })
    .filter(
      (p) =>
        !(
          typeof p.c === 'string' &&
          UUID.test(p.c) &&
          p.k === target.key &&
          validValue(p.v) &&
          typeof p.i === 'string' &&
          UUID.test(p.i)
        ),
    )
    .map(encode);
  const extraKeys = fc
    .record({ extra: fc.jsonValue() })
    .map((x) =>
      encode({ c: w.a.id, k: target.key, v: '2026-01-01T00:00:00.000Z', i: randomUUID(), ...x }),
    );
  const shapes = fc
    .jsonValue()
    .filter((v) => v === null || typeof v !== 'object' || Array.isArray(v) || !('c' in v))
    .map(encode);
  const garbage = fc.oneof(
    fc.string(),
    fc.string({ unit: 'binary', maxLength: 60 }),
    fc.base64String(),
    fc.string({ minLength: 1100, maxLength: 1200 }),
  );
  return fc.oneof(forged, extraKeys, shapes, garbage);
}

describe.each(cursorTargets)('cursor of $name', (target) => {
  test('malformed, forged or wrong-typed: BAD_USER_INPUT before any SQL', async () => {
    const base = await baseline(target.base, target.base.includes('$id') ? { id: customerId } : {});
    await fc.assert(
      fc.asyncProperty(badCursors(target), async (cursor) => {
        const { res, statements } = await run(target.query, { c: cursor, id: customerId });
        expectBadInput(res, target.arg, () => `cursor ${JSON.stringify(cursor)}`);
        if (statements.length !== base) {
          throw new Error(
            `cursor ${JSON.stringify(cursor)} cost SQL: ${JSON.stringify(statements)}`,
          );
        }
      }),
      { numRuns: RUNS },
    );
  });
});

test('the forged cursor values from the report are refused by shape and type, on each ordering', async () => {
  for (const target of cursorTargets) {
    const base = await baseline(target.base, target.base.includes('$id') ? { id: customerId } : {});
    const good = target.timestamp ? '2026-01-01T00:00:00.000Z' : 'Anna';
    const forged = [
      { c: w.a.id, k: target.key, v: good, i: 'not-a-uuid' },
      { c: w.a.id, k: target.key, v: 1e308, i: randomUUID() },
      { c: w.a.id, k: target.key, v: good, i: 42 },
      { c: w.a.id, k: target.key, v: [good], i: randomUUID() },
      ...(target.timestamp ? [{ c: w.a.id, k: target.key, v: 'not-a-date', i: randomUUID() }] : []),
    ];
    for (const payload of forged) {
      const { res, statements } = await run(target.query, { c: encode(payload), id: customerId });
      expectBadInput(res, target.arg, () => `${target.name} ${JSON.stringify(payload)}`);
      expect(statements).toHaveLength(base);
    }
  }
});

test("a well-formed cursor of another company is NOT_FOUND before any SQL; another order's is BAD_USER_INPUT", async () => {
  const base = await baseline('{ __typename }');
  const foreign = encode({ c: w.b.id, k: 'name', v: 'Anna', i: randomUUID() });
  const a = await run('query($c: String) { customers(first: 1, after: $c) { totalCount } }', {
    c: foreign,
  });
  expect(a.res.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND', field: 'after' });
  expect(a.statements).toHaveLength(base);

  // A real cursor of the customers' created_at order, used on their name order.
  const page = await s.gql(
    '{ customers(first: 1, orderBy: { field: CREATED_AT }) { pageInfo { endCursor } } }',
    {},
    { token },
  );
  const cursor = page.data!.customers.pageInfo.endCursor as string;
  const b = await run('query($c: String) { customers(first: 1, after: $c) { totalCount } }', {
    c: cursor,
  });
  expect(b.res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
  // Refused before the page is read (only the transaction was opened).
  expect(b.statements.some((q) => /customers/.test(q))).toBe(false);
});

test('a cursor handed out by the server still pages', async () => {
  for (const target of cursorTargets) {
    const q = target.query.replace(
      /\{ totalCount \}|\{ nodes \{ id \} \}/,
      '{ pageInfo { startCursor endCursor } }',
    );
    const first = await s.gql(q, { c: null, id: customerId }, { token });
    expect(first.errors).toBeUndefined();
  }
  const page = await s.gql('{ appointments(first: 1) { pageInfo { endCursor } } }', {}, { token });
  const cursor = page.data!.appointments.pageInfo.endCursor as string;
  const next = await s.gql(
    'query($c: String) { appointments(first: 1, after: $c) { nodes { id } } }',
    { c: cursor },
    { token },
  );
  expect(next.errors).toBeUndefined();
});

// ---- global ids ------------------------------------------------------------------------------

const wellFormedId = (value: string): boolean => {
  if (value.length > 200) return false;
  const parts = Buffer.from(value, 'base64url').toString('utf8').split(':');
  return (
    parts.length === 3 &&
    /^[A-Z][A-Za-z]{1,40}$/.test(parts[0]) &&
    UUID.test(parts[1]) &&
    UUID.test(parts[2])
  );
};

/** Strings that are no global id at all. */
const malformedIds: fc.Arbitrary<string> = fc
  .oneof(
    fc.string(),
    fc.string({ unit: 'binary', maxLength: 60 }),
    fc.base64String(),
    fc.string({ minLength: 201, maxLength: 400 }),
    fc
      .tuple(
        fc.oneof(
          fc.constantFrom('Customer', 'customer', 'X', '', 'Customer1'),
          fc.string({ maxLength: 10 }),
        ),
        fc.oneof(fc.uuid(), fc.string({ maxLength: 40 }), fc.constant('')),
        fc.oneof(
          fc.uuid(),
          fc.constantFrom('not-a-uuid', "1' or '1'='1"),
          fc.string({ maxLength: 40 }),
        ),
      )
      .map((parts) => encode(parts.join(':'))),
    fc.tuple(fc.uuid(), fc.uuid()).map(([a, b]) => encode(`Customer:${a}:${b}:extra`)),
  )
  .filter((v) => !wellFormedId(v));

interface IdTarget {
  name: string;
  query: string;
  field: string;
  /** A well-formed id of the wrong type for this argument. */
  wrongType: () => string;
}

const idTargets: IdTarget[] = [
  {
    name: 'node(id)',
    query: 'query($x: ID!) { node(id: $x) { id } }',
    field: 'id',
    wrongType: () => globalId('Company', w.a.id, w.a.id),
  },
  {
    name: 'nodes(ids)',
    query: 'query($x: ID!, $ok: ID!) { nodes(ids: [$ok, $x]) { id } }',
    field: 'ids.1',
    wrongType: () => globalId('Secret', w.a.id, randomUUID()),
  },
  {
    name: 'archiveCustomer(id)',
    query: 'mutation($x: ID!) { archiveCustomer(id: $x) { id } }',
    field: 'id',
    wrongType: () => globalId('Branch', w.a.id, w.a.branchId),
  },
  {
    name: 'addCustomerNote(customerId)',
    query: 'mutation($x: ID!) { addCustomerNote(customerId: $x, body: "fuzz") { id } }',
    field: 'customerId',
    wrongType: () => globalId('Appointment', w.a.id, w.a.appointmentId),
  },
  {
    name: 'confirmAppointment(id)',
    query: 'mutation($x: ID!) { confirmAppointment(id: $x) { id } }',
    field: 'id',
    wrongType: () => globalId('Customer', w.a.id, w.a.customerId),
  },
];

describe.each(idTargets)('global id in $name', (target) => {
  test('malformed or of the wrong type: BAD_USER_INPUT naming the argument, before any SQL', async () => {
    // A query opens its READ ONLY transaction while authenticating; a mutation's transactions
    // open per field. So the baseline is an empty operation of the same kind.
    const mutation = target.query.startsWith('mutation');
    const base = await baseline(mutation ? 'mutation { __typename }' : '{ __typename }');
    const ids = fc.oneof(
      malformedIds,
      fc.constant(null).map(() => target.wrongType()),
    );
    await fc.assert(
      fc.asyncProperty(ids, async (x) => {
        const { res, statements } = await run(target.query, { x, ok: customerId });
        expectBadInput(res, target.field, () => `id ${JSON.stringify(x)}`);
        if (statements.length !== base) {
          throw new Error(`id ${JSON.stringify(x)} cost SQL: ${JSON.stringify(statements)}`);
        }
      }),
      { numRuns: RUNS },
    );
  });
});

test('a failed mutation field with a bad id leaves the fields before it committed', async () => {
  const body = `kept-${randomUUID()}`;
  const res = await s.gql(
    `mutation($c: ID!, $b: String!) {
       note: addCustomerNote(customerId: $c, body: $b) { id }
       bad: archiveCustomer(id: "not-an-id") { id }
     }`,
    { c: customerId, b: body },
    { token },
  );
  expect(res.data?.note?.id).toEqual(expect.any(String));
  expect(res.data?.bad).toBeNull();
  expect(res.errors?.[0]).toMatchObject({
    path: ['bad'],
    extensions: { code: 'BAD_USER_INPUT', field: 'id' },
  });
  expect(await s.t.superuser('customer_notes').where({ body }).first()).toBeDefined();
});

test('a webhook inbox cursor is refused by shape and type before any SQL', async () => {
  const base = await baseline('{ __typename }');
  const query = 'query($c: String) { webhookEvents(first: 1, after: $c) { edges { cursor } } }';
  const instant = (v: unknown) =>
    typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/.test(v);
  const cursors = fc.oneof(
    fc.string(),
    fc.base64String(),
    fc
      .tuple(
        fc.oneof(
          fc.constantFrom('1', 'not-a-date', '2026-02-30T00:00:00Z', '+275760-09-13T00:00:00Z'),
          fc.string(),
          fc.double(),
          fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
        ),
        fc.oneof(fc.uuid(), fc.constantFrom('not-a-uuid', ''), fc.integer()),
      )
      .filter(([at, id]) => !(instant(at) && typeof id === 'string' && UUID.test(id)))
      .map(encode),
  );
  await fc.assert(
    fc.asyncProperty(cursors, async (cursor) => {
      const { res, statements } = await run(query, { c: cursor });
      expectBadInput(res, 'after', () => `cursor ${JSON.stringify(cursor)}`);
      if (statements.length !== base) {
        throw new Error(`cursor ${JSON.stringify(cursor)} cost SQL: ${JSON.stringify(statements)}`);
      }
    }),
    { numRuns: RUNS },
  );
});
