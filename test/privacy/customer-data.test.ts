import { startTestServer, type TestServer } from '../helpers/server';
import { readCatalog, snapshotCompany, type Catalog } from '../helpers/tenant-fixtures';
import { createWorld, globalId, type World } from '../helpers/world';
import { CALL_TABLES, CUSTOMER_TABLES, ERASED_NAME } from '../../src/privacy/customer-data';

/**
 * A caller's rights: the export covers every table that holds a customer (found in the catalogue,
 * so a new table with customer_id fails here until it is covered), and erasure leaves no trace of
 * the person's name, phone or email in any text or JSON column of the company.
 */
let s: TestServer;
let w: World;
let catalog: Catalog;
let admin: string;
let customerId: string;
let gid: string;

const NAME = 'Zelda Quennell';
const PHONE = '+4915111223344';
const EMAIL = 'zelda.quennell@example.test';

const EXPORT = 'query($id: ID!) { exportCustomerData(customerId: $id) }';
const ERASE = 'mutation($id: ID!) { eraseCustomer(customerId: $id) { customerId rows } }';

beforeAll(async () => {
  s = await startTestServer();
  w = await createWorld(s);
  catalog = await readCatalog(s.t.superuser);
  admin = await w.login(w.a.users.admin.email);
  const db = s.t.superuser;
  const c = w.a.id;
  [{ id: customerId }] = await db('customers')
    .insert({ company_id: c, name: NAME, phone_e164: PHONE, email: EMAIL })
    .returning('id');
  gid = globalId('Customer', c, customerId);
  await db('customer_notes').insert({
    company_id: c,
    customer_id: customerId,
    body: `${NAME} prefers mornings, call ${PHONE}`,
  });
  const [call] = await db('calls')
    .insert({
      company_id: c,
      retell_call_id: 'call-zelda',
      status: 'ended',
      customer_id: customerId,
      from_number: PHONE,
      to_number: '+4930999000',
      ended_at: new Date(),
      transcript: `Agent: Hello. User: This is ${NAME}, my email is ${EMAIL}.`,
      summary: `${NAME} booked a haircut`,
      recording_url: 'https://recordings.example.invalid/zelda.wav',
      metadata: { retell: { caller: NAME }, transcript_object: [{ content: NAME }] },
    })
    .returning('id');
  // A second call from the same number that was never linked to the customer.
  const [unlinked] = await db('calls')
    .insert({
      company_id: c,
      retell_call_id: 'call-zelda-unlinked',
      status: 'ended',
      from_number: PHONE,
      transcript: `Hi, it is ${NAME} again`,
    })
    .returning('id');
  // The voice agent's log and stored answers of both calls, shaped as the voice endpoint writes
  // them: the answers repeat the caller's name, number and appointment.
  await db('voice_function_calls').insert([
    {
      company_id: c,
      call_id: call.id,
      function_name: 'book_appointment',
      outcome: 'ok',
      latency_ms: 212,
    },
    {
      company_id: c,
      call_id: unlinked.id,
      function_name: 'request_callback',
      outcome: 'ok',
      latency_ms: 95,
      replayed: true,
    },
  ]);
  await db('voice_idempotency').insert([
    {
      company_id: c,
      call_id: call.id,
      function_name: 'book_appointment',
      args_hash: 'a'.repeat(64),
      response: {
        ok: true,
        outcome: 'ok',
        message: `Booked a haircut for ${NAME} on Friday at 10:00; confirmation to ${EMAIL}.`,
        appointment: { customerName: NAME, phone: PHONE },
      },
    },
    {
      company_id: c,
      call_id: unlinked.id,
      function_name: 'request_callback',
      args_hash: 'b'.repeat(64),
      response: { ok: true, outcome: 'ok', message: `We will call ${NAME} back at ${PHONE}.` },
    },
  ]);
  const start = new Date(Date.now() + 5 * 86400_000);
  start.setUTCHours(10, 0, 0, 0);
  await db('appointments').insert({
    company_id: c,
    customer_id: customerId,
    service_id: w.a.serviceId,
    staff_id: w.a.staffId,
    call_id: call.id,
    starts_at: start,
    ends_at: new Date(start.getTime() + 30 * 60_000),
    status: 'cancelled',
    source: 'phone',
    notes: `Booked by ${NAME}`,
    cancellation_reason: `${NAME} is ill`,
    buffer_minutes: 0,
  });
  await db('callback_requests').insert({
    company_id: c,
    customer_id: customerId,
    call_id: call.id,
    phone_e164: PHONE,
    name: NAME,
    reason: `Call back ${NAME} at ${EMAIL}`,
  });
  await db('activity_logs').insert([
    {
      company_id: c,
      actor_type: 'user',
      action: 'customer.update',
      subject_type: 'Customer',
      subject_id: customerId,
      details: { before: { name: NAME } },
    },
    {
      company_id: c,
      actor_type: 'voice_agent',
      action: 'call.note',
      details: { said: `caller ${PHONE}` },
      reason: `asked for ${NAME}`,
    },
  ]);
  await db('webhook_events').insert({
    provider: 'retell',
    event_type: 'call_analyzed',
    dedupe_key: 'zelda-analyzed',
    payload_raw: JSON.stringify({ call: { from_number: PHONE, transcript: NAME } }),
    payload: { call: { from_number: PHONE, transcript: NAME } },
    status: 'processed',
    resolved_company_id: c,
  });
});
afterAll(async () => s.close());

/** Tenant tables with a customer_id column, from the catalogue. */
const tablesWithCustomer = () =>
  catalog.tenantTables.filter((t) => catalog.columns.get(t)!.some((c) => c.name === 'customer_id'));

/** Tenant tables with a call_id column (a call belongs to a person), from the catalogue. */
const tablesWithCall = () =>
  catalog.tenantTables.filter((t) => catalog.columns.get(t)!.some((c) => c.name === 'call_id'));

test('every table with a customer_id column is covered by the export and the erasure', () => {
  expect(tablesWithCustomer().length).toBeGreaterThanOrEqual(4);
  expect(tablesWithCustomer().filter((t) => !CUSTOMER_TABLES.includes(t))).toEqual([]);
});

test('every table with a call_id column is covered too (through the person’s calls)', () => {
  expect(tablesWithCall()).toEqual(
    expect.arrayContaining(['voice_function_calls', 'voice_idempotency']),
  );
  const covered = [...CUSTOMER_TABLES, ...CALL_TABLES];
  expect(tablesWithCall().filter((t) => !covered.includes(t))).toEqual([]);
  // A table in CALL_TABLES really links through call_id (a typo would hide a gap).
  expect(CALL_TABLES.filter((t) => !tablesWithCall().includes(t))).toEqual([]);
});

test('export: everything about the person, from every table that holds them', async () => {
  const res = await s.gql(EXPORT, { id: gid }, { token: admin });
  expect(res.errors).toBeUndefined();
  const data = res.data!.exportCustomerData as Record<string, any[]>;
  for (const table of [...tablesWithCustomer(), ...tablesWithCall()]) {
    expect([table, (data[table] ?? []).length > 0]).toEqual([table, true]);
  }
  // The voice log and stored answers of both calls, the unlinked one found by the number.
  expect(data.voice_function_calls.map((f) => f.function_name).sort()).toEqual([
    'book_appointment',
    'request_callback',
  ]);
  expect(data.voice_idempotency.map((v) => v.response.message).join(' ')).toContain(PHONE);
  expect(data.customers).toEqual([expect.objectContaining({ name: NAME, email: EMAIL })]);
  const calls = data.calls.map((c) => c.retell_call_id).sort();
  expect(calls).toEqual(['call-zelda', 'call-zelda-unlinked']);
  expect(data.calls.find((c) => c.retell_call_id === 'call-zelda').transcript).toContain(NAME);
  expect(data.activity_logs.map((a: { action: string }) => a.action).sort()).toEqual([
    'call.note',
    'customer.update',
  ]);
  const audit = await s.t
    .superuser('activity_logs')
    .where({ company_id: w.a.id, action: 'customer.export', subject_id: customerId })
    .first();
  expect(audit).toBeDefined();
});

test('export and erasure are for admins of the company only', async () => {
  for (const role of ['manager', 'staff'] as const) {
    const token = await w.login(w.a.users[role].email);
    expect((await s.gql(EXPORT, { id: gid }, { token })).errors?.[0].extensions?.code).toBe(
      'FORBIDDEN',
    );
    expect((await s.gql(ERASE, { id: gid }, { token })).errors?.[0].extensions?.code).toBe(
      'FORBIDDEN',
    );
  }
  const adminB = await w.login(w.b.users.admin.email);
  const cross = await s.gql(ERASE, { id: gid }, { token: adminB });
  expect(cross.errors?.[0].extensions).toMatchObject({ code: 'NOT_FOUND', field: 'customerId' });
  const bad = await s.gql(ERASE, { id: 'nonsense' }, { token: admin });
  expect(bad.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'customerId' });
});

test('erasure: no trace of name, phone or email in any text column; counts and statistics kept', async () => {
  const db = s.t.superuser;
  const count = async (table: string) =>
    Number((await db(table).where({ company_id: w.a.id }).count({ n: '*' }))[0].n);
  const before: Record<string, number> = {};
  for (const t of [...CUSTOMER_TABLES, ...CALL_TABLES, 'customers', 'activity_logs'])
    before[t] = await count(t);
  const logBefore = await db('voice_function_calls')
    .where({ company_id: w.a.id })
    .orderBy('function_name')
    .select('function_name', 'outcome', 'latency_ms', 'replayed');
  const apptBefore = await db('appointments')
    .where({ company_id: w.a.id, customer_id: customerId })
    .select('starts_at', 'ends_at', 'status', 'service_id', 'staff_id');
  const otherCompany = await snapshotCompany(db, catalog, w.b.id);

  const res = await s.gql(ERASE, { id: gid }, { token: admin });
  expect(res.errors).toBeUndefined();
  expect(res.data?.eraseCustomer.customerId).toBe(gid);

  // Search every text and JSON column of every tenant table of the company.
  const needles = [NAME, PHONE, EMAIL, 'Quennell', '15111223344'].map((n) => n.toLowerCase());
  const found: string[] = [];
  for (const table of catalog.tenantTables) {
    const columns = catalog.columns
      .get(table)!
      .filter((c) => /^(text|citext|jsonb|json|character varying.*|text\[\])$/.test(c.type));
    for (const column of columns) {
      for (const needle of needles) {
        const { rows } = await db.raw(
          `select count(*)::int as n from ?? where company_id = ? and strpos(lower(??::text), ?) > 0`,
          [table, w.a.id, column.name, needle],
        );
        if (rows[0].n > 0) found.push(`${table}.${column.name} contains ${needle}`);
      }
    }
  }
  // And the stored webhook payloads of the company.
  for (const needle of needles) {
    const { rows } = await db.raw(
      `select count(*)::int as n from webhook_events where resolved_company_id = ?
         and (strpos(lower(payload_raw), ?) > 0 or strpos(lower(payload::text), ?) > 0)`,
      [w.a.id, needle, needle],
    );
    if (rows[0].n > 0) found.push(`webhook_events contains ${needle}`);
  }
  expect(found).toEqual([]);

  // Recordings are gone; the rows and the appointment history are kept.
  const calls = await db('calls')
    .where({ company_id: w.a.id })
    .whereIn('retell_call_id', ['call-zelda', 'call-zelda-unlinked']);
  expect(calls.map((c) => [c.recording_url, c.transcript])).toEqual([
    [null, null],
    [null, null],
  ]);
  for (const t of Object.keys(before))
    expect([t, await count(t)]).toEqual([t, before[t] + (t === 'activity_logs' ? 1 : 0)]);
  const apptAfter = await db('appointments')
    .where({ company_id: w.a.id, customer_id: customerId })
    .select('starts_at', 'ends_at', 'status', 'service_id', 'staff_id');
  expect(apptAfter).toEqual(apptBefore);
  // The voice log is kept as it was; stored answers keep their outcome only.
  const logAfter = await db('voice_function_calls')
    .where({ company_id: w.a.id })
    .orderBy('function_name')
    .select('function_name', 'outcome', 'latency_ms', 'replayed');
  expect(logAfter).toEqual(logBefore);
  const answers = await db('voice_idempotency')
    .where({ company_id: w.a.id })
    .orderBy('function_name')
    .select('response', 'args_hash');
  expect(answers.map((a) => a.response)).toEqual([
    { ok: true, outcome: 'ok', message: '[erased]' },
    { ok: true, outcome: 'ok', message: '[erased]' },
  ]);
  expect(answers.map((a) => a.args_hash)).not.toContain('a'.repeat(64));
  expect(answers.map((a) => a.args_hash)).not.toContain('b'.repeat(64));
  expect(answers.every((a) => /^[0-9a-f]{64}$/.test(a.args_hash))).toBe(true);
  const customer = await db('customers').where({ id: customerId }).first();
  expect(customer).toMatchObject({ name: ERASED_NAME, phone_e164: null, email: null });

  // Audited without naming the person; irreversible; other companies untouched.
  const audit = await db('activity_logs')
    .where({ company_id: w.a.id, action: 'customer.erase', subject_id: customerId })
    .first();
  expect(audit).toBeDefined();
  const again = await s.gql(EXPORT, { id: gid }, { token: admin });
  expect(again.data?.exportCustomerData.customers[0].name).toBe(ERASED_NAME);
  expect(await snapshotCompany(db, catalog, w.b.id)).toEqual(otherCompany);
});
