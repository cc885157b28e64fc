import { startTestServer, type TestServer } from '../helpers/server';
import { createWorld, globalId, type World } from '../helpers/world';

/**
 * Erasure is all-or-nothing: privacy_erase_customer_traces is a platform function, so the erasure
 * runs in one platform transaction bound to the company, and a failure of its last write (the
 * customer row) leaves the activity entries, the stored webhook payloads, the voice agent's stored
 * answers and every other row as they were. The runtime role of a request cannot execute the function at all.
 */
let s: TestServer;
let w: World;
let admin: string;
let customerId: string;
let gid: string;

const NAME = 'Quirin Atomar';
const PHONE = '+4915199887766';
const ERASE = 'mutation($id: ID!) { eraseCustomer(customerId: $id) { customerId rows } }';

beforeAll(async () => {
  s = await startTestServer();
  w = await createWorld(s);
  admin = await w.login(w.a.users.admin.email);
  const db = s.t.superuser;
  [{ id: customerId }] = await db('customers')
    .insert({ company_id: w.a.id, name: NAME, phone_e164: PHONE })
    .returning('id');
  gid = globalId('Customer', w.a.id, customerId);
  await db('customer_notes').insert({ company_id: w.a.id, customer_id: customerId, body: NAME });
  const [call] = await db('calls')
    .insert({
      company_id: w.a.id,
      retell_call_id: 'call-atomar',
      status: 'ended',
      from_number: PHONE,
    })
    .returning('id');
  await db('voice_idempotency').insert({
    company_id: w.a.id,
    call_id: call.id,
    function_name: 'request_callback',
    args_hash: 'c'.repeat(64),
    response: { ok: true, outcome: 'ok', message: `We will call ${NAME} back at ${PHONE}.` },
  });
  await db('activity_logs').insert({
    company_id: w.a.id,
    actor_type: 'user',
    action: 'customer.update',
    subject_type: 'Customer',
    subject_id: customerId,
    details: { before: { name: NAME } },
  });
  await db('webhook_events').insert({
    provider: 'retell',
    event_type: 'call_analyzed',
    dedupe_key: 'atomar-analyzed',
    payload_raw: JSON.stringify({ call: { from_number: PHONE } }),
    payload: { call: { from_number: PHONE } },
    status: 'processed',
    resolved_company_id: w.a.id,
  });
});
afterAll(async () => s.close());

const state = async () => ({
  customer: await s.t.superuser('customers').where({ id: customerId }).first('name', 'phone_e164'),
  notes: await s.t.superuser('customer_notes').where({ customer_id: customerId }).pluck('body'),
  activity: await s.t
    .superuser('activity_logs')
    .where({ company_id: w.a.id })
    .orderBy('id')
    .select('id', 'action', 'details'),
  answers: await s.t
    .superuser('voice_idempotency')
    .where({ company_id: w.a.id })
    .select('args_hash', 'response'),
  events: await s.t
    .superuser('webhook_events')
    .where({ dedupe_key: 'atomar-analyzed' })
    .select('payload_raw', 'payload'),
});

test('a failure after the traces were scrubbed rolls the whole erasure back', async () => {
  const su = s.t.superuser;
  // The customer row is written last: make that write fail.
  await su.raw(`
    create function test_refuse_erasure() returns trigger language plpgsql as $$
    begin raise exception 'refused for the test'; end $$`);
  await su.raw(`
    create trigger test_refuse_erasure before update on customers
      for each row when (new.name = 'Erased customer') execute function test_refuse_erasure()`);
  const before = await state();
  const res = await s.gql(ERASE, { id: gid }, { token: admin });
  expect(res.errors?.[0].extensions?.code).toEqual(expect.any(String));
  expect(res.data?.eraseCustomer ?? null).toBeNull();
  expect(await state()).toEqual(before);
  expect(JSON.stringify(before.events)).toContain(PHONE);
  expect(JSON.stringify(before.answers)).toContain(PHONE);

  await su.raw('drop trigger test_refuse_erasure on customers');
  const ok = await s.gql<{ eraseCustomer: { rows: Record<string, number> } }>(
    ERASE,
    { id: gid },
    { token: admin },
  );
  expect(ok.errors).toBeUndefined();
  expect(ok.data!.eraseCustomer.rows.activity_logs_and_webhook_events).toBe(2);
  const after = await state();
  expect(JSON.stringify(after.events)).not.toContain(PHONE);
  expect(after.answers).toEqual([
    {
      args_hash: expect.not.stringMatching(/^c+$/),
      response: { ok: true, outcome: 'ok', message: '[erased]' },
    },
  ]);
  expect(after.customer).toEqual({ name: 'Erased customer', phone_e164: null });
});

test('the runtime role of a request cannot execute the erasure function', async () => {
  await expect(
    s.t.db.knex.transaction(async (trx) => {
      await trx.raw(`select set_config('app.company_id', ?, true)`, [w.a.id]);
      await trx.raw('select privacy_erase_customer_traces(?, ?::text[])', [customerId, [NAME]]);
    }),
  ).rejects.toMatchObject({ code: '42501' });
});
