import { startTestServer, type TestServer } from '../helpers/server';
import { readCatalog, type Catalog } from '../helpers/tenant-fixtures';
import { createWorld, globalId, type World } from '../helpers/world';
import {
  VOICE_KEY,
  callFor,
  callFunction,
  localStart,
  nextWeekday,
  seedSalon,
  type Salon,
} from '../voice/helpers';

/**
 * End to end through the voice agent's real endpoint: a caller books and asks for a callback on
 * the phone, the agent stores its answers (tying them to their appointment) for Retell's retries;
 * the company's export contains those answers and the function log, and erasure leaves no trace of
 * the caller in any column of the voice tables.
 */
let s: TestServer;
let w: World;
let catalog: Catalog;
let salon: Salon;
let admin: string;

const NAME = 'Yorick Vantablack';
const PHONE = '+4915790807060';

const EXPORT = 'query($id: ID!) { exportCustomerData(customerId: $id) }';
const ERASE = 'mutation($id: ID!) { eraseCustomer(customerId: $id) { customerId rows } }';

beforeAll(async () => {
  s = await startTestServer({
    retellApiKeys: [VOICE_KEY],
    voiceAllowedCidrs: ['127.0.0.1/32', '::1/128'],
  });
  w = await createWorld(s);
  catalog = await readCatalog(s.t.superuser);
  salon = await seedSalon(s.t.superuser, { language: 'en' });
  // An admin of the salon, with the world's password.
  const { password_hash } = await s.t.superuser('users').where({ id: w.a.users.admin.id }).first();
  const email = `admin@${salon.companyId}.test`;
  await s.t.superuser('users').insert({
    company_id: salon.companyId,
    email,
    name: 'Salon admin',
    password_hash,
    roles: ['admin'],
  });
  admin = await w.login(email);
});
afterAll(async () => s.close());

const voiceText = async () => {
  const out: string[] = [];
  for (const table of catalog.tenantTables.filter((t) => t.startsWith('voice_'))) {
    const rows = await s.t.superuser(table).where({ company_id: salon.companyId });
    out.push(JSON.stringify(rows));
  }
  return out.join('\n').toLowerCase();
};

test('the export holds the caller’s voice answers; erasure leaves none of their data in them', async () => {
  const call = callFor(salon, PHONE);
  const booked = await callFunction(s.url, 'book_appointment', call, {
    service: 'Haircut',
    start: localStart(nextWeekday(3), '11:00'),
    name: NAME,
  });
  expect(booked.body).toMatchObject({ ok: true });
  const callback = await callFunction(s.url, 'request_callback', call, {
    reason: `Please call ${NAME} about the colour`,
    name: NAME,
  });
  expect(callback.body).toMatchObject({ ok: true });
  const customer = await s.t
    .superuser('customers')
    .where({ company_id: salon.companyId, phone_e164: PHONE })
    .first();
  expect(customer).toBeDefined();
  const gid = globalId('Customer', salon.companyId, customer.id);
  // The stored answers tie the caller to their appointment (who, when, with whom).
  const traces = [
    NAME,
    'Vantablack',
    PHONE,
    '15790807060',
    customer.id,
    booked.body.appointmentId,
    booked.body.startsAt,
    'is booked for',
  ];
  const before = await voiceText();
  expect(traces.filter((n) => before.includes(n.toLowerCase()))).toEqual([
    customer.id,
    booked.body.appointmentId,
    booked.body.startsAt,
    'is booked for',
  ]);

  const exported = await s.gql(EXPORT, { id: gid }, { token: admin });
  expect(exported.errors).toBeUndefined();
  const data = exported.data!.exportCustomerData as Record<string, any[]>;
  expect(data.voice_function_calls.map((f) => f.function_name).sort()).toEqual([
    'book_appointment',
    'request_callback',
  ]);
  expect(data.voice_idempotency).toHaveLength(2);
  expect(JSON.stringify(data.voice_idempotency)).toContain(booked.body.appointmentId);

  const log = async () =>
    s.t
      .superuser('voice_function_calls')
      .where({ company_id: salon.companyId })
      .orderBy('created_at')
      .select('function_name', 'outcome', 'latency_ms', 'replayed');
  const logBefore = await log();
  const erased = await s.gql(ERASE, { id: gid }, { token: admin });
  expect(erased.errors).toBeUndefined();
  expect(erased.data?.eraseCustomer.rows.voice_idempotency).toBe(2);

  const after = await voiceText();
  expect(traces.filter((n) => after.includes(n.toLowerCase()))).toEqual([]);
  expect(await log()).toEqual(logBefore);
  const answers = await s.t
    .superuser('voice_idempotency')
    .where({ company_id: salon.companyId })
    .pluck('response');
  expect(answers).toEqual([
    { ok: true, outcome: 'ok', message: '[erased]' },
    { ok: true, outcome: 'ok', message: '[erased]' },
  ]);
});
