import { randomUUID } from 'node:crypto';
import { DateTime } from 'luxon';
import { requestStorage } from '../../src/observability/context';
import { startTestServer, type GraphQLResult, type TestServer } from '../helpers/server';
import { createWorld, globalId, type World } from '../helpers/world';

/**
 * `availableSlots` through GraphQL: a page of `first` slots (default 50, at most 100) with a
 * cursor per slot and `pageInfo`; a malformed, forged or foreign cursor is refused before any SQL.
 */
let s: TestServer;
let w: World;
let admin: string;
let serviceId: string;

const day = (n: number) =>
  DateTime.now().setZone('Europe/Berlin').plus({ days: n }).toISODate() as string;

beforeAll(async () => {
  s = await startTestServer();
  w = await createWorld(s);
  admin = await w.login(w.a.users.admin.email);
  serviceId = globalId('Service', w.a.id, w.a.serviceId);
});
afterAll(async () => s.close());

const SLOTS = `query($s: ID!, $f: String!, $t: String!, $first: Int, $after: String, $d: Boolean) {
  availableSlots(serviceId: $s, from: $f, to: $t, first: $first, after: $after, distinctTimes: $d) {
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    slots { cursor startsAt staff { id } }
  }
}`;

interface Page {
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; endCursor: string | null };
  slots: { cursor: string; startsAt: string; staff: { id: string } }[];
}

/** One request, with the SQL statements the server ran for it. */
async function run(variables: Record<string, unknown>, token = admin) {
  const requestId = `slots-${randomUUID()}`;
  const statements: string[] = [];
  const listener = (q: { sql?: string }) => {
    if (requestStorage.getStore()?.requestId === requestId) statements.push(q.sql ?? '');
  };
  s.t.db.knex.on('query', listener);
  try {
    const res: GraphQLResult = await s.gql(
      SLOTS,
      { s: serviceId, f: day(3), t: day(9), ...variables },
      { token, headers: { 'x-request-id': requestId } },
    );
    return { res, statements, page: res.data?.availableSlots as Page | undefined };
  } finally {
    s.t.db.knex.off('query', listener);
  }
}

const keyOf = (slot: Page['slots'][number]) => `${slot.startsAt} ${slot.staff.id}`;

test('a page of 50 by default, continued with after until the range is done', async () => {
  const first = await run({});
  expect(first.res.errors).toBeUndefined();
  expect(first.page!.slots).toHaveLength(50);
  expect(first.page!.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
  expect(first.page!.pageInfo.endCursor).toBe(first.page!.slots[49].cursor);

  const all = await run({ first: 100 });
  const seen: string[] = [];
  let after: string | null = null;
  for (let i = 0; i < 100; i++) {
    const { res, page } = await run({ first: 30, after });
    expect(res.errors).toBeUndefined();
    seen.push(...page!.slots.map(keyOf));
    if (!page!.pageInfo.hasNextPage) break;
    after = page!.pageInfo.endCursor;
  }
  expect(new Set(seen).size).toBe(seen.length);
  // The first 100 of the walk are the page of 100, in the same order.
  expect(seen.slice(0, 100)).toEqual(all.page!.slots.map(keyOf));
  expect(seen.length).toBeGreaterThan(100);
});

test('distinct times: one slot per start time', async () => {
  const { res, page } = await run({ d: true, first: 20 });
  expect(res.errors).toBeUndefined();
  const times = page!.slots.map((x) => x.startsAt);
  expect(new Set(times).size).toBe(times.length);
});

test.each([
  ['0', { first: 0 }],
  ['101', { first: 101 }],
])('first %s is BAD_USER_INPUT naming first, before any SQL', async (_n, variables) => {
  const baseline = (await run({ first: 1 })).statements.length;
  const { res, statements } = await run(variables);
  expect(res.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'first' });
  expect(res.data).toBeFalsy();
  // Authentication may read; the slots are never computed and no transaction is opened.
  expect(statements.length).toBeLessThan(baseline);
  expect(statements.some((q) => /set_config|availab|appointments/i.test(q))).toBe(false);
});

const encode = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

test('a malformed or forged cursor is BAD_USER_INPUT naming after; nothing of the tenant is read', async () => {
  const good = (await run({ first: 1 })).page!.slots[0].cursor;
  const payload = JSON.parse(Buffer.from(good, 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
  const forged = [
    'garbage!',
    encode('not json'),
    encode([1, 2]),
    encode({ ...payload, v: 'not-a-date' }),
    encode({ ...payload, v: '9999-99-99T00:00:00Z' }),
    encode({ ...payload, v: 1e308 }),
    encode({ ...payload, i: 'not-a-uuid' }),
    encode({ ...payload, k: 'starts_at' }),
    encode({ ...payload, extra: 1 }),
  ];
  for (const after of forged) {
    const { res, statements } = await run({ after });
    expect(res.errors).toHaveLength(1);
    expect(res.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
    expect(JSON.stringify(res.errors)).not.toMatch(/stack|select |at \//i);
    expect(statements.some((q) => /services|appointments/i.test(q))).toBe(false);
  }
  // Another company's cursor is not found (and counted as a cross-tenant attempt).
  const foreign = encode({ ...payload, c: w.b.id });
  const { res } = await run({ after: foreign });
  expect(res.errors?.[0].extensions).toMatchObject({ code: 'NOT_FOUND', field: 'after' });
});

test('a range in 9999 or past the booking horizon is BAD_USER_INPUT with the field', async () => {
  const far = await run({ f: '9999-12-01', t: '9999-12-02' });
  expect(far.res.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'from' });
  const late = await run({ f: day(200), t: day(201) });
  expect(late.res.errors?.[0].extensions).toMatchObject({
    code: 'BAD_USER_INPUT',
    field: 'from',
    details: { rule: 'booking.horizonDays' },
  });
  const reversed = await run({ f: day(5), t: day(3) });
  expect(reversed.res.errors?.[0].extensions).toMatchObject({
    code: 'BAD_USER_INPUT',
    field: 'to',
  });
});
