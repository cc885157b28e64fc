import { hashPassword } from '../../src/auth/password';
import { startTestServer, type TestServer } from '../helpers/server';
import {
  calcomEvent,
  postCalcom,
  postRetell,
  RETELL_KEY,
  retellEvent,
  seedCompany,
  unique,
  type SeededCompany,
} from '../webhooks/helpers';
import { sleep, subscribe, until, type Received } from './helpers';

/**
 * Changes made by the webhook worker (a system actor, in a unit of work of its own) reach the
 * subscribers once the worker's unit committed: a Retell call for the "calls now" panel, a Cal.com
 * booking for the calendar.
 */
let s: TestServer;
let co: SeededCompany;
let token: string;
const open: Received[] = [];

beforeAll(async () => {
  s = await startTestServer({
    retellApiKeys: [RETELL_KEY],
    webhookRateLimitPerMinute: 100_000,
  });
  co = await seedCompany(s.t.superuser);
  await s.t.superuser('users').insert({
    company_id: co.companyId,
    email: 'admin@live.test',
    name: 'Admin',
    password_hash: await hashPassword('correct-horse-battery'),
    roles: ['admin'],
  });
  const res = await s.gql(
    'mutation { login(input: { email: "admin@live.test", password: "correct-horse-battery" }) { accessToken } }',
  );
  token = res.data?.login.accessToken as string;
  expect(token).toEqual(expect.any(String));
});

afterAll(async () => {
  await Promise.all(open.map((r) => r.dispose()));
  await s?.close();
});

async function listen(query: string): Promise<Received> {
  const r = subscribe(s.url, { authorization: `Bearer ${token}` }, query);
  open.push(r);
  await r.connected;
  await sleep(150);
  return r;
}

test('a Retell call and a Cal.com booking processed by the webhook worker are delivered', async () => {
  const calls = await listen(
    'subscription { callChanged { action call { retellCallId status } } }',
  );
  const appointments = await listen(
    'subscription { appointmentChanged { action appointment { source status } } }',
  );
  const callId = unique('call');
  const started = await postRetell(
    s.url,
    retellEvent('call_started', {
      call_id: callId,
      agent_id: co.agentId,
      from_number: co.customerPhone,
      to_number: co.number,
    }),
  );
  expect(started.status).toBe(202);
  await until(() => calls.data.length === 1, 15_000);
  expect(calls.data[0].callChanged).toMatchObject({
    action: 'STARTED',
    call: { retellCallId: callId, status: 'ongoing' },
  });

  const uid = unique('bk');
  const booked = await postCalcom(
    s.url,
    calcomEvent('BOOKING_CREATED', {
      uid,
      eventTypeId: co.eventTypeId,
      organizer: { id: co.calcomUserId, name: 'Sam', email: 'sam@elsewhere.test' },
      attendees: [
        { name: 'New Person', email: `${uid}@example.test`, phoneNumber: '0170 1234567' },
      ],
    }),
    { endpoint: co.calcomEndpointId },
  );
  expect(booked.status).toBe(202);
  await until(() => appointments.data.length === 1, 15_000);
  expect(appointments.data[0].appointmentChanged).toMatchObject({
    action: 'CREATED',
    appointment: { source: 'CALCOM' },
  });
}, 60_000);
