import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { CommitFailedError, RequestContext } from '../../src/context/request-context';
import { requestStorage } from '../../src/observability/context';
import { startTestServer, type TestServer } from '../helpers/server';
import { createWorld, globalId, type World } from '../helpers/world';

/**
 * Each root mutation field runs in a transaction of its own, committed before the next field
 * starts; a failure rolls back that field alone and is reported on it; a COMMIT that does not
 * commit is an error; the answer never reports work that was not committed.
 */
let s: TestServer;
let w: World;
let token: string;
let customer: string;
let otherCustomer: string;

beforeAll(async () => {
  s = await startTestServer();
  w = await createWorld(s);
  token = await w.login(w.a.users.admin.email);
  customer = globalId('Customer', w.a.id, w.a.customerId);
  const [other] = await s.t
    .superuser('customers')
    .insert({ company_id: w.a.id, name: 'Second customer' })
    .returning('id');
  otherCustomer = globalId('Customer', w.a.id, other.id as string);
});
afterAll(async () => s.close());

const db = (): Knex => s.t.superuser;

const uuidOf = (gid: string): string =>
  Buffer.from(gid, 'base64url').toString('utf8').split(':')[2];

async function notesWithBody(body: string): Promise<number> {
  const [{ n }] = await db()('customer_notes').where({ body }).count<{ n: string }[]>('* as n');
  return Number(n);
}

async function auditRows(subjectId: string): Promise<string[]> {
  const rows = await db()('activity_logs').where({ subject_id: subjectId }).select('action');
  return rows.map((r: { action: string }) => r.action);
}

/** A cursor of the right order key whose sort value is not a timestamp: Postgres would refuse it. */
const forgedNotesCursor = (): string =>
  Buffer.from(
    JSON.stringify({ c: w.a.id, k: 'created_at', v: 'not-a-date', i: randomUUID() }),
  ).toString('base64url');

/** Runs `fn` with a trigger made by the superuser, dropped afterwards. */
async function withTrigger(sql: string[], drop: string[], fn: () => Promise<void>): Promise<void> {
  for (const statement of sql) await db().raw(statement);
  try {
    await fn();
  } finally {
    for (const statement of drop) await db().raw(statement);
  }
}

/** Statements the server ran for one request, told apart by its request id. */
async function statementsOf<T>(
  fn: (requestId: string) => Promise<T>,
): Promise<{ result: T; statements: string[] }> {
  const requestId = `tx-test-${randomUUID()}`;
  const statements: string[] = [];
  // The authentication check (is the session still live?) runs before the request's transactions.
  const listener = (q: { sql?: string }) => {
    if (requestStorage.getStore()?.requestId !== requestId) return;
    if (/^select \* from auth_/i.test(q.sql ?? '')) return;
    statements.push(q.sql ?? '');
  };
  s.t.db.knex.on('query', listener);
  try {
    const result = await fn(requestId);
    return { result, statements };
  } finally {
    s.t.db.knex.off('query', listener);
  }
}

test('the reported reproduction: committed fields stay committed and reported, the failing one on its path', async () => {
  const first = `note-${randomUUID()}`;
  const third = `note-${randomUUID()}`;
  const phone = '+4917099887766';
  const res = await s.gql(
    `mutation($c: ID!, $o: ID!, $first: String!, $third: String!, $cursor: String!) {
       note: addCustomerNote(customerId: $c, body: $first) { id }
       callback: createCallbackRequest(input: { phone: "${phone}", reason: "call me" }) { id }
       later: addCustomerNote(customerId: $o, body: $third) {
         id customer { notes(first: 5, after: $cursor) { totalCount } }
       }
     }`,
    { c: customer, o: otherCustomer, first, third, cursor: forgedNotesCursor() },
    { token },
  );
  expect(res.status).toBe(200);
  // The two first fields are reported with their ids ...
  expect(res.data?.note?.id).toEqual(expect.any(String));
  expect(res.data?.callback?.id).toEqual(expect.any(String));
  // ... the forged cursor is refused on its own path, as bad input, not as a server error.
  expect(res.errors).toHaveLength(1);
  expect(res.errors![0].path).toEqual(['later', 'customer', 'notes']);
  expect(res.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
  // ... and what was reported is really there, with its audit rows.
  const noteId = uuidOf(res.data!.note.id);
  const callbackId = uuidOf(res.data!.callback.id);
  expect(await notesWithBody(first)).toBe(1);
  expect(await auditRows(noteId)).toEqual(['customer_note.create']);
  expect(await db()('callback_requests').where({ id: callbackId }).first()).toBeDefined();
  expect(await auditRows(callbackId)).toEqual(['callback_request.created']);
  // The third note was committed before its payload was read; the payload failed, not the write.
  expect(await notesWithBody(third)).toBe(1);
});

test('a database error in a later field rolls back that field only', async () => {
  const first = `note-${randomUUID()}`;
  await withTrigger(
    [
      `create function test_refuse_branch() returns trigger language plpgsql as $$
         begin raise exception 'branch refused by test'; end $$`,
      `create trigger test_refuse_branch before insert on branches
         for each row execute function test_refuse_branch()`,
    ],
    ['drop trigger test_refuse_branch on branches', 'drop function test_refuse_branch()'],
    async () => {
      const res = await s.gql(
        `mutation($c: ID!, $first: String!) {
           note: addCustomerNote(customerId: $c, body: $first) { id body }
           callback: createCallbackRequest(input: { phone: "+4917011122233" }) { id status }
           branch: createBranch(input: { name: "Refused" }) { id }
         }`,
        { c: customer, first },
        { token },
      );
      expect(res.data?.note).toMatchObject({ id: expect.any(String), body: first });
      expect(res.data?.callback).toMatchObject({ id: expect.any(String), status: 'pending' });
      expect(res.data?.branch).toBeNull();
      expect(res.errors).toHaveLength(1);
      expect(res.errors![0].path).toEqual(['branch']);
      expect(res.errors![0].extensions?.code).toBe('INTERNAL');
      expect(await notesWithBody(first)).toBe(1);
      const callbackId = uuidOf(res.data!.callback.id);
      expect(await db()('callback_requests').where({ id: callbackId }).first()).toBeDefined();
      expect(await db()('branches').where({ name: 'Refused' }).first()).toBeUndefined();
    },
  );
});

test('when the second of two mutations fails after writing, the first stays and the second left nothing', async () => {
  const first = `note-${randomUUID()}`;
  const phone = '+4917055544433';
  // The callback request row is written, then its audit row is refused: the whole field goes.
  await withTrigger(
    [
      `create function test_refuse_audit() returns trigger language plpgsql as $$
         begin
           if new.action = 'callback_request.created' then
             raise exception 'audit refused by test';
           end if;
           return new;
         end $$`,
      `create trigger test_refuse_audit before insert on activity_logs
         for each row execute function test_refuse_audit()`,
    ],
    ['drop trigger test_refuse_audit on activity_logs', 'drop function test_refuse_audit()'],
    async () => {
      const callbacksBefore = await db()('callback_requests').count<{ n: string }[]>('* as n');
      const auditBefore = await db()('activity_logs').count<{ n: string }[]>('* as n');
      const res = await s.gql(
        `mutation($c: ID!, $first: String!) {
           note: addCustomerNote(customerId: $c, body: $first) { id }
           callback: createCallbackRequest(input: { phone: "${phone}" }) { id }
         }`,
        { c: customer, first },
        { token },
      );
      expect(res.data?.note?.id).toEqual(expect.any(String));
      expect(res.data?.callback).toBeNull();
      expect(res.errors?.map((e) => e.path)).toEqual([['callback']]);
      expect(res.errors![0].extensions?.code).toBe('INTERNAL');
      const noteId = uuidOf(res.data!.note.id);
      expect(await notesWithBody(first)).toBe(1);
      expect(await auditRows(noteId)).toEqual(['customer_note.create']);
      const callbacksAfter = await db()('callback_requests').count<{ n: string }[]>('* as n');
      expect(callbacksAfter[0].n).toBe(callbacksBefore[0].n);
      expect(await db()('callback_requests').where({ phone_e164: phone }).first()).toBeUndefined();
      // Exactly one audit row more: the note's. None for the callback request.
      const auditAfter = await db()('activity_logs').count<{ n: string }[]>('* as n');
      expect(Number(auditAfter[0].n)).toBe(Number(auditBefore[0].n) + 1);
    },
  );
});

describe('a COMMIT that does not commit', () => {
  const explode = `explode-at-commit-${randomUUID()}`;
  const setup = [
    `create function test_fail_at_commit() returns trigger language plpgsql as $$
       begin
         if new.body like 'explode-at-commit-%' then
           raise exception 'refused at commit by test';
         end if;
         return null;
       end $$`,
    `create constraint trigger test_fail_at_commit after insert on customer_notes
       deferrable initially deferred for each row execute function test_fail_at_commit()`,
  ];
  const teardown = [
    'drop trigger test_fail_at_commit on customer_notes',
    'drop function test_fail_at_commit()',
  ];

  test('is an error on its field, and no data claims success', async () => {
    await withTrigger(setup, teardown, async () => {
      const res = await s.gql(
        `mutation($c: ID!, $b: String!) { note: addCustomerNote(customerId: $c, body: $b) { id body } }`,
        { c: customer, b: explode },
        { token },
      );
      expect(res.data).toEqual({ note: null });
      expect(res.errors).toHaveLength(1);
      expect(res.errors![0].path).toEqual(['note']);
      expect(res.errors![0].extensions?.code).toBe('INTERNAL');
      expect(JSON.stringify(res)).not.toContain('refused at commit');
      expect(await notesWithBody(explode)).toBe(0);
    });
  });

  test('rolls back that field only; the field before it stays committed and reported', async () => {
    const fine = `note-${randomUUID()}`;
    await withTrigger(setup, teardown, async () => {
      const res = await s.gql(
        `mutation($c: ID!, $fine: String!, $b: String!) {
           fine: addCustomerNote(customerId: $c, body: $fine) { id }
           bad: addCustomerNote(customerId: $c, body: $b) { id }
         }`,
        { c: customer, fine, b: explode },
        { token },
      );
      expect(res.data?.fine?.id).toEqual(expect.any(String));
      expect(res.data?.bad).toBeNull();
      expect(res.errors?.map((e) => [e.path, e.extensions?.code])).toEqual([[['bad'], 'INTERNAL']]);
      expect(await notesWithBody(fine)).toBe(1);
      expect(await notesWithBody(explode)).toBe(0);
      const audited = await db()('activity_logs')
        .where({ action: 'customer_note.create', request_id: res.headers.get('x-request-id') })
        .select('subject_id');
      expect(audited.map((r: { subject_id: string }) => r.subject_id)).toEqual([
        uuidOf(res.data!.fine.id),
      ]);
    });
  });

  test('answered with ROLLBACK (a failed statement swallowed inside the field) is an error too', async () => {
    const ctx = new RequestContext({
      deps: s.server.deps,
      actor: { kind: 'system', name: 'webhook' },
      companyId: w.a.id,
    });
    ctx.beginOperation('mutation');
    const body = `swallowed-${randomUUID()}`;
    await expect(
      ctx.inFieldTransaction(async () => {
        const trx = await ctx.trx();
        await trx('customer_notes').insert({
          company_id: w.a.id,
          customer_id: w.a.customerId,
          body,
        });
        // A failing statement whose error is caught: Postgres has aborted the transaction.
        await trx.raw('select 1 / 0').catch(() => undefined);
        return 'claims success';
      }),
    ).rejects.toBeInstanceOf(CommitFailedError);
    await ctx.finish(true);
    expect(await notesWithBody(body)).toBe(0);
  });
});

test('a failing unit of work whose error the resolver swallowed still rolls the field back', async () => {
  const ctx = new RequestContext({
    deps: s.server.deps,
    actor: { kind: 'system', name: 'webhook' },
    companyId: w.a.id,
  });
  const body = `half-written-${randomUUID()}`;
  await expect(
    ctx.inFieldTransaction(async () => {
      await ctx
        .unitOfWork(async (trx) => {
          await trx('customer_notes').insert({
            company_id: w.a.id,
            customer_id: w.a.customerId,
            body,
          });
          throw new Error('the unit failed after writing');
        })
        .catch(() => undefined);
      return 'claims success';
    }),
  ).rejects.toThrow('the unit failed after writing');
  await ctx.finish(true);
  expect(await notesWithBody(body)).toBe(0);
});

test('a query reads in one READ ONLY transaction', async () => {
  const ctx = new RequestContext({
    deps: s.server.deps,
    actor: { kind: 'system', name: 'webhook' },
    companyId: w.a.id,
  });
  ctx.beginOperation('query');
  const trx = await ctx.trx();
  const { rows } = await trx.raw(`select current_setting('transaction_read_only') as ro`);
  expect(rows[0].ro).toBe('on');
  expect(await ctx.trx()).toBe(trx);
  await ctx.finish(true);
});

test('statements: a plain query is one transaction; each mutation field its own, without savepoints', async () => {
  const query = await statementsOf((requestId) =>
    s.gql(
      `query($c: ID!) { node(id: $c) { ... on Customer { name } } }`,
      { c: customer },
      { token, headers: { 'x-request-id': requestId } },
    ),
  );
  expect(query.result.errors).toBeUndefined();
  expect(query.statements.filter((q) => /^begin/i.test(q))).toHaveLength(1);
  expect(query.statements[0]).toMatch(/^BEGIN TRANSACTION READ ONLY/i);

  const one = await statementsOf((requestId) =>
    s.gql(
      `mutation($c: ID!) { a: addCustomerNote(customerId: $c, body: "counted") { id } }`,
      { c: customer },
      { token, headers: { 'x-request-id': requestId } },
    ),
  );
  expect(one.result.errors).toBeUndefined();
  const two = await statementsOf((requestId) =>
    s.gql(
      `mutation($c: ID!) {
         a: addCustomerNote(customerId: $c, body: "counted") { id }
         b: addCustomerNote(customerId: $c, body: "counted") { id }
       }`,
      { c: customer },
      { token, headers: { 'x-request-id': requestId } },
    ),
  );
  expect(two.result.errors).toBeUndefined();
  // BEGIN with its set_config (one round trip), the customer, the note, its audit row, COMMIT.
  expect(one.statements).toHaveLength(5);
  expect(one.statements[0]).toMatch(/^BEGIN; select set_config\('app\.company_id'/);
  expect(one.statements.some((q) => /savepoint/i.test(q))).toBe(false);
  expect(two.statements.filter((q) => /^begin/i.test(q))).toHaveLength(2);
  expect(two.statements.filter((q) => /^commit/i.test(q))).toHaveLength(2);
  expect(two.statements).toHaveLength(10);
  // The payload is read after the field committed, in a fresh READ ONLY transaction.
  const payload = await statementsOf((requestId) =>
    s.gql(
      `mutation($c: ID!) { a: addCustomerNote(customerId: $c, body: "counted") { id author { name } } }`,
      { c: customer },
      { token, headers: { 'x-request-id': requestId } },
    ),
  );
  expect(payload.result.errors).toBeUndefined();
  const commit = payload.statements.findIndex((q) => /^commit/i.test(q));
  expect(commit).toBe(4);
  expect(payload.statements[commit + 1]).toMatch(/^BEGIN TRANSACTION READ ONLY/i);
  expect(payload.statements[payload.statements.length - 1]).toMatch(/^commit/i);
  console.log(
    `statements: node query ${query.statements.length}, one addCustomerNote ${one.statements.length}, two ${two.statements.length}, one with a payload read ${payload.statements.length}`,
  );
});

test('a query Apollo refuses after authentication leaves no transaction open', async () => {
  // A query opens its READ ONLY transaction while authenticating (the session check is its first
  // statement). Variables sent as a JSON string pass the static checks and are then refused by
  // Apollo Server before any plugin hook runs: more such requests than the pool has connections.
  const requests = 25;
  for (let i = 0; i < requests; i += 1) {
    const res = await fetch(`${s.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ me { actorType } }', variables: '{}' }),
    });
    expect(res.status).toBe(400);
    await res.text();
  }
  // Nothing stays idle in a transaction, and the pool still serves a request.
  const deadline = Date.now() + 10_000;
  let open = -1;
  while (Date.now() < deadline) {
    const { rows } = (await db().raw(
      `select count(*)::int as n from pg_stat_activity
        where datname = current_database() and state like 'idle in transaction%'`,
    )) as { rows: { n: number }[] };
    open = rows[0].n;
    if (open === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  expect(open).toBe(0);
  const res = await s.gql('{ me { actorType } }', {}, { token });
  expect(res.errors).toBeUndefined();
});
