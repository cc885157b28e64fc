import pino from 'pino';
import { createDeps, startServer, type AppServer } from '../../src/app';
import { testConfig } from '../../src/config';
import { DEMO_PASSWORD, DEMO_USERS } from '../../src/seed/demo';
import { sleep, subscribe, until, type Received } from './helpers';

/** The embedded start (PGlite, no DATABASE_URL) serves subscriptions through the in-process bus. */
let server: AppServer;
let sub: Received | undefined;

beforeAll(async () => {
  const deps = await createDeps(
    testConfig({
      port: 0,
      host: '127.0.0.1',
      databaseUrl: undefined,
      pgliteDataDir: 'memory',
      seedDemoData: true,
      logLevel: 'silent',
    }),
  );
  deps.logger = pino({ level: 'silent' });
  server = await startServer(deps);
}, 120_000);

afterAll(async () => {
  await sub?.dispose();
  await server?.close();
});

test('a callback request made over HTTP reaches a subscriber of the embedded server', async () => {
  expect(server.deps.live?.transport).toBe('memory');
  const admin = DEMO_USERS.find((u) => u.role === 'admin')!;
  const login = await fetch(`${server.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      query: `mutation { login(input: { email: "${admin.email}", password: "${DEMO_PASSWORD}" }) { accessToken } }`,
    }),
  });
  const token = ((await login.json()) as any).data.login.accessToken as string;
  sub = subscribe(
    server.url,
    { authorization: `Bearer ${token}` },
    'subscription { callbackRequested { action callbackRequest { id name } } }',
  );
  await sub.connected;
  await sleep(150);
  const res = await fetch(`${server.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({
      query:
        'mutation { createCallbackRequest(input: { phone: "+4915111122299", name: "Ida" }) { id } }',
    }),
  });
  const body = (await res.json()) as any;
  expect(body.errors).toBeUndefined();
  await until(() => sub!.data.length === 1, 10_000);
  expect(sub.data[0].callbackRequested).toMatchObject({
    action: 'CREATED',
    callbackRequest: { id: body.data.createCallbackRequest.id, name: 'Ida' },
  });
}, 60_000);
