import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { startServer, type AppServer } from '../../src/app';
import { testConfig, type Config } from '../../src/config';
import { openDatabase } from '../../src/db/database';
import { createMetrics } from '../../src/observability/metrics';
import { startTestServer, type TestServer } from '../helpers/server';
import { createWorld, globalId, type World } from '../helpers/world';
import { sleep, subscribe, until, type Received } from './helpers';

/** With REDIS_URL set, events travel through Redis pub/sub between processes. */
let s: TestServer;
let second: AppServer;
let w: World;
const open: Received[] = [];

const redisConfig = (): Partial<Config> => ({
  redisUrl: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
  redisKeyPrefix: `test-live-${randomBytes(4).toString('hex')}`,
});

beforeAll(async () => {
  const config = redisConfig();
  s = await startTestServer(config);
  w = await createWorld(s);
  second = await startServer({
    config: testConfig({ port: 0, host: '127.0.0.1', databaseUrl: s.t.url, ...config }),
    db: await openDatabase({ url: s.t.url, poolMax: 4 }),
    logger: pino({ level: 'silent' }),
    metrics: createMetrics(),
  });
});

afterAll(async () => {
  await Promise.all(open.map((r) => r.dispose()));
  await second?.close();
  await s?.close();
});

test('a subscriber on one server receives a booking made on the other, through Redis', async () => {
  expect(s.server.deps.live?.transport).toBe('redis');
  expect(second.deps.live?.transport).toBe('redis');
  const token = await w.login(w.a.users.admin.email);
  const otherCompany = await w.login(w.b.users.admin.email);
  const query = 'subscription { appointmentChanged { action appointment { id } } }';
  const remote = subscribe(second.url, { authorization: `Bearer ${token}` }, query);
  const foreign = subscribe(second.url, { authorization: `Bearer ${otherCompany}` }, query);
  open.push(remote, foreign);
  await Promise.all([remote.connected, foreign.connected]);
  await sleep(150);
  const start = new Date(Date.now() + 11 * 86_400_000);
  start.setUTCHours(10, 0, 0, 0);
  const res = await s.gql(
    `mutation($s: ID!, $st: ID, $t: DateTime!, $c: ID) {
      bookAppointment(input: { serviceId: $s, staffId: $st, startsAt: $t, customerId: $c }) { appointment { id } }
    }`,
    {
      s: globalId('Service', w.a.id, w.a.serviceId),
      st: globalId('Staff', w.a.id, w.a.staffId),
      t: start.toISOString(),
      c: globalId('Customer', w.a.id, w.a.customerId),
    },
    { token },
  );
  expect(res.errors).toBeUndefined();
  await until(() => remote.data.length === 1);
  expect(remote.data[0].appointmentChanged.appointment.id).toBe(
    res.data?.bookAppointment.appointment.id,
  );
  await sleep(200);
  expect(foreign.data).toEqual([]);
});
