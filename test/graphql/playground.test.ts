/// <reference lib="dom" />
import { chromium, type Browser } from 'playwright-core';
import { loadConfig } from '../../src/config';
import { startTestServer, type TestServer } from '../helpers/server';
import { systemBinary } from '../helpers/system-binary';
import { createWorld, globalId, type World } from '../helpers/world';

/**
 * The playground as a person uses it: a real headless Chromium opens /graphql, puts a bearer token
 * in the headers editor, runs a query and sees the answer. All assets come from this server.
 */
let s: TestServer;
let w: World;
let browser: Browser;
/** Debian's chromium; skipped loudly without it, required under CI=true. */
const browserBinary = systemBinary(
  'Chromium',
  [process.env.CHROMIUM_PATH, 'chromium', 'chromium-browser'],
  'apt-get install -y chromium',
);

beforeAll(async () => {
  s = await startTestServer();
  w = await createWorld(s);
  if (!browserBinary.path) return;
  browser = await chromium.launch({
    executablePath: browserBinary.path,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});
afterAll(async () => {
  await browser?.close();
  await s.close();
});

browserBinary.test(
  'open the playground, set a token, run a query, see the result',
  async () => {
    const token = await w.login(w.a.users.admin.email);
    const page = await browser.newPage();
    const external: string[] = [];
    page.on('request', (req) => {
      if (!req.url().startsWith(s.url) && !req.url().startsWith('data:')) external.push(req.url());
    });
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));

    // A token an earlier version left in local storage is removed when the playground opens.
    await page.goto(`${s.url}/healthz`);
    await page.evaluate(() => {
      window.localStorage.setItem('graphiql:headers', '{"Authorization":"Bearer legacy-token"}');
      window.localStorage.setItem('unrelated', 'kept');
    });

    await page.goto(`${s.url}/graphql`);
    expect(page.url()).toBe(`${s.url}/playground`);
    await page.waitForSelector('.graphiql-container', { timeout: 20_000 }).catch(async (e) => {
      console.log(page.url(), (await page.content()).slice(0, 800));
      throw e;
    });

    // Open the Headers tab and replace its text with our token.
    await page.getByRole('button', { name: 'Headers' }).click();
    const headersEditor = page.locator('.graphiql-editor-tool .CodeMirror:visible');
    await headersEditor.waitFor();
    await headersEditor.evaluate((el, t) => {
      const headers = el as unknown as { CodeMirror: { setValue(v: string): void } };
      headers.CodeMirror.setValue(JSON.stringify({ Authorization: `Bearer ${t}` }));
    }, token);
    await page.evaluate(() => {
      const query = document.querySelector('.graphiql-query-editor .CodeMirror') as unknown as {
        CodeMirror: { setValue(v: string): void };
      };
      query.CodeMirror.setValue('query Me { me { email roles company { slug } } }');
    });
    // The editors hand their text to GraphiQL after a short debounce, as after typing.
    await page.waitForTimeout(1000);
    await page.click('.graphiql-execute-button');
    await page
      .waitForFunction(
        () => (document.querySelector('.graphiql-response')?.textContent ?? '').includes('alpha'),
        undefined,
        { timeout: 20_000 },
      )
      .catch(async (e) => {
        await page.screenshot({ path: 'test-results/playground-failed.png' });
        console.log(await page.textContent('.graphiql-response'));
        throw e;
      });
    const text = (await page.textContent('.graphiql-response')) ?? '';
    expect(text).toContain(w.a.users.admin.email);
    expect(text).toContain('ADMIN');
    await page.screenshot({ path: 'test-results/playground.png' });

    // The token is kept in this tab's session storage, never in local storage.
    const storage = await page.evaluate(() => {
      const dump = (st: Storage) =>
        Array.from({ length: st.length }, (_, i) => st.key(i)!).map((k) => `${k}=${st.getItem(k)}`);
      return { local: dump(window.localStorage), session: dump(window.sessionStorage) };
    });
    expect(storage.session.join('\n')).toContain(token);
    expect(storage.local.join('\n')).not.toContain(token);
    expect(storage.local.join('\n')).not.toContain('legacy-token');
    expect(storage.local).toContain('unrelated=kept');
    expect(external).toEqual([]);
    expect(errors).toEqual([]);
  },
  60_000,
);

test('off by default in production: no /playground, and /graphql does not redirect', async () => {
  const production = loadConfig({
    NODE_ENV: 'production',
    DATABASE_URL: 'postgres://owner@db/app',
    DATABASE_RUNTIME_URL: 'postgres://app_runtime@db/app',
    DATABASE_PLATFORM_URL: 'postgres://app_platform_client@db/app',
    JWT_SECRET: 'x'.repeat(40),
    METRICS_TOKEN: 'metrics-secret',
    CREDENTIAL_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
  });
  expect(production.playground).toBe(false);
  const off = await startTestServer({ playground: production.playground });
  try {
    const page = await fetch(`${off.url}/playground`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(404);
    const script = await fetch(`${off.url}/playground/assets/init.js`);
    expect(script.status).toBe(404);
    const graphql = await fetch(`${off.url}/graphql`, {
      headers: { accept: 'text/html' },
      redirect: 'manual',
    });
    expect(graphql.status).not.toBe(302);
  } finally {
    await off.close();
  }
}, 60_000);

test('a subscription runs in the playground and shows a booking made elsewhere', async () => {
  const token = await w.login(w.a.users.admin.email);
  const page = await browser.newPage();
  const external: string[] = [];
  page.on('request', (req) => {
    if (!req.url().startsWith(s.url) && !req.url().startsWith('data:')) external.push(req.url());
  });
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto(`${s.url}/playground`);
  await page.waitForSelector('.graphiql-container', { timeout: 20_000 });
  await page.getByRole('button', { name: 'Headers' }).click();
  const headersEditor = page.locator('.graphiql-editor-tool .CodeMirror:visible');
  await headersEditor.waitFor();
  await headersEditor.evaluate((el, t) => {
    const headers = el as unknown as { CodeMirror: { setValue(v: string): void } };
    headers.CodeMirror.setValue(JSON.stringify({ Authorization: `Bearer ${t}` }));
  }, token);
  await page.evaluate(() => {
    const query = document.querySelector('.graphiql-query-editor .CodeMirror') as unknown as {
      CodeMirror: { setValue(v: string): void };
    };
    query.CodeMirror.setValue(
      'subscription Live { appointmentChanged { action appointment { id customer { name } } } }',
    );
  });
  await page.waitForTimeout(1000);
  await page.click('.graphiql-execute-button');
  // The socket is open and the subscription registered once the server counts it.
  const sockets = async () => (await s.server.deps.metrics.liveSockets.get()).values[0]?.value ?? 0;
  for (let i = 0; i < 100 && (await sockets()) < 1; i++) await page.waitForTimeout(100);
  await page.waitForTimeout(300);

  const start = new Date(Date.now() + 12 * 86_400_000);
  start.setUTCHours(9, 0, 0, 0);
  const booked = await s.gql(
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
  expect(booked.errors).toBeUndefined();
  await page.waitForFunction(
    () => (document.querySelector('.graphiql-response')?.textContent ?? '').includes('CREATED'),
    undefined,
    { timeout: 20_000 },
  );
  const text = (await page.textContent('.graphiql-response')) ?? '';
  expect(text).toContain(booked.data?.bookAppointment.appointment.id);
  expect(text).toContain('Customer alpha');
  await page.screenshot({ path: 'test-results/playground-subscription.png' });
  expect(external).toEqual([]);
  expect(errors).toEqual([]);
}, 60_000);
