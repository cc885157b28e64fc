/// <reference lib="dom" />
import { chromium, type Browser } from 'playwright-core';
import { startTestServer, type TestServer } from '../helpers/server';
import { createWorld, type World } from '../helpers/world';

/**
 * The playground as a person uses it: a real headless Chromium opens /graphql, puts a bearer token
 * in the headers editor, runs a query and sees the answer. All assets come from this server.
 */
let s: TestServer;
let w: World;
let browser: Browser;

beforeAll(async () => {
  s = await startTestServer();
  w = await createWorld(s);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
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

test('open the playground, set a token, run a query, see the result', async () => {
  const token = await w.login(w.a.users.admin.email);
  const page = await browser.newPage();
  const external: string[] = [];
  page.on('request', (req) => {
    if (!req.url().startsWith(s.url) && !req.url().startsWith('data:')) external.push(req.url());
  });
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));

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
  expect(external).toEqual([]);
  expect(errors).toEqual([]);
}, 60_000);
