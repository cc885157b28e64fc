import { startTestServer, type TestServer } from '../helpers/server';
import { createWorld, PASSWORD, type World } from '../helpers/world';

/**
 * An access token is only as good as what stands behind it: each request checks that its session
 * is live, its user enabled and its company not archived (or its platform admin still there), so
 * logout, disabling, password changes and archiving take effect at once, not at token expiry.
 */
let s: TestServer;
let w: World;

const LOGIN = `mutation($e: String!, $p: String!) {
  login(input: { email: $e, password: $p }) { accessToken refreshToken }
}`;
const REFRESH =
  'mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken } }';
const ME = '{ me { actorType roles } }';
const CHANGE = `mutation($c: String!, $n: String!) {
  changePassword(input: { currentPassword: $c, newPassword: $n }) { revokedSessions }
}`;
const UPDATE_USER = `mutation($id: ID!, $p: String, $d: Boolean, $r: [Role!]) {
  updateUser(input: { id: $id, password: $p, disabled: $d, roles: $r }) { id }
}`;

interface Session {
  accessToken: string;
  refreshToken: string;
}

async function signIn(email: string, password = PASSWORD): Promise<Session> {
  const res = await s.gql<{ login: Session }>(LOGIN, { e: email, p: password });
  if (!res.data?.login) throw new Error(`login failed: ${JSON.stringify(res.errors)}`);
  return res.data.login;
}

async function expectRefused(token: string, reason?: string) {
  const res = await s.gql(ME, {}, { token });
  expect(res.status).toBe(401);
  expect(res.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
  if (reason) expect(res.errors?.[0].extensions?.details).toEqual({ reason });
}

async function expectRefreshRefused(refreshToken: string) {
  const res = await s.gql(REFRESH, { t: refreshToken });
  expect(res.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
  expect(res.data?.refreshToken ?? null).toBeNull();
}

async function userGlobalId(adminToken: string, email: string): Promise<string> {
  const res = await s.gql<{ users: { nodes: { id: string }[] } }>(
    'query($q: String!) { users(first: 5, filter: { search: $q }) { nodes { id } } }',
    { q: email },
    { token: adminToken },
  );
  const id = res.data?.users.nodes[0]?.id;
  if (!id) throw new Error(`no user ${email}: ${JSON.stringify(res.errors)}`);
  return id;
}

async function addUser(adminToken: string, email: string, role = 'STAFF'): Promise<string> {
  const res = await s.gql<{ createUser: { id: string } }>(
    `mutation($e: EmailAddress!, $r: [Role!]!) {
      createUser(input: { email: $e, name: "Person", password: "${PASSWORD}", roles: $r }) { id }
    }`,
    { e: email, r: [role] },
    { token: adminToken },
  );
  if (!res.data?.createUser) throw new Error(JSON.stringify(res.errors));
  return res.data.createUser.id;
}

beforeAll(async () => {
  s = await startTestServer();
  w = await createWorld(s);
});
afterAll(async () => s.close());

describe('logout', () => {
  test('kills the access token at once, and its refresh token', async () => {
    const session = await signIn(w.a.users.manager.email);
    expect((await s.gql(ME, {}, { token: session.accessToken })).errors).toBeUndefined();
    const out = await s.gql('mutation { logout }', {}, { token: session.accessToken });
    expect(out.data?.logout).toBe(true);
    await expectRefused(session.accessToken, 'SESSION_REVOKED');
    await expectRefreshRefused(session.refreshToken);
  });

  test('ends only that session: another device stays signed in', async () => {
    const one = await signIn(w.a.users.staff.email);
    const two = await signIn(w.a.users.staff.email);
    await s.gql('mutation { logout }', {}, { token: one.accessToken });
    await expectRefused(one.accessToken);
    expect((await s.gql(ME, {}, { token: two.accessToken })).errors).toBeUndefined();
  });

  test('an access token from a rotated refresh token still works until logout', async () => {
    const first = await signIn(w.a.users.staff.email);
    const rotated = await s.gql<{ refreshToken: Session }>(REFRESH, { t: first.refreshToken });
    const second = rotated.data?.refreshToken as Session;
    // Both access tokens name the same session, which is still live.
    expect((await s.gql(ME, {}, { token: first.accessToken })).errors).toBeUndefined();
    expect((await s.gql(ME, {}, { token: second.accessToken })).errors).toBeUndefined();
    await s.gql('mutation { logout }', {}, { token: second.accessToken });
    await expectRefused(first.accessToken);
    await expectRefused(second.accessToken);
  });
});

describe('disabled users', () => {
  test("a disabled user's access and refresh tokens are refused at once", async () => {
    const admin = (await signIn(w.a.users.admin.email)).accessToken;
    await addUser(admin, 'disable-me@alpha.test');
    const victim = await signIn('disable-me@alpha.test');
    const id = await userGlobalId(admin, 'disable-me@alpha.test');
    const res = await s.gql(UPDATE_USER, { id, d: true }, { token: admin });
    expect(res.errors).toBeUndefined();
    await expectRefused(victim.accessToken, 'USER_DISABLED');
    await expectRefreshRefused(victim.refreshToken);
    const login = await s.gql(LOGIN, { e: 'disable-me@alpha.test', p: PASSWORD });
    expect(login.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
  });

  test('disabled directly in the database, the token is refused with USER_DISABLED', async () => {
    const admin = (await signIn(w.a.users.admin.email)).accessToken;
    await addUser(admin, 'disabled-db@alpha.test');
    const victim = await signIn('disabled-db@alpha.test');
    await s.t
      .superuser('users')
      .where({ email: 'disabled-db@alpha.test' })
      .update({ disabled_at: new Date() });
    await expectRefused(victim.accessToken, 'USER_DISABLED');
  });

  test('a role change takes effect at once, without waiting for the token to expire', async () => {
    const admin = (await signIn(w.a.users.admin.email)).accessToken;
    await addUser(admin, 'demote-me@alpha.test', 'MANAGER');
    const manager = (await signIn('demote-me@alpha.test')).accessToken;
    const before = await s.gql('{ users(first: 1) { totalCount } }', {}, { token: manager });
    expect(before.errors).toBeUndefined();
    const id = await userGlobalId(admin, 'demote-me@alpha.test');
    await s.gql(UPDATE_USER, { id, r: ['STAFF'] }, { token: admin });
    const after = await s.gql('{ users(first: 1) { totalCount } }', {}, { token: manager });
    expect(after.errors?.[0].extensions?.code).toBe('FORBIDDEN');
  });
});

describe('password changes', () => {
  test('changing one’s own password needs the current one and follows the policy', async () => {
    const me = (await signIn(w.b.users.staff.email)).accessToken;
    const wrong = await s.gql(
      CHANGE,
      { c: 'not-my-password', n: 'a-brand-new-password' },
      { token: me },
    );
    expect(wrong.errors?.[0].extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.currentPassword',
    });
    for (const bad of ['short', 'x'.repeat(257), 'twelve-chars\u0000-with-nul']) {
      const res = await s.gql(CHANGE, { c: PASSWORD, n: bad }, { token: me });
      expect(res.errors?.[0].extensions).toMatchObject({
        code: 'BAD_USER_INPUT',
        field: 'input.newPassword',
      });
    }
    const huge = await s.gql(LOGIN, { e: w.b.users.staff.email, p: 'x'.repeat(5000) });
    expect(huge.errors?.[0].extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.password',
    });
    // Nothing changed: the old password still signs in.
    await signIn(w.b.users.staff.email);
  });

  test('revokes every other session of the user and keeps the current one', async () => {
    const email = 'changer@beta.test';
    const admin = (await signIn(w.b.users.admin.email)).accessToken;
    await addUser(admin, email);
    const current = await signIn(email);
    const laptop = await signIn(email);
    const phone = await signIn(email);
    const res = await s.gql(
      CHANGE,
      { c: PASSWORD, n: 'the-new-password-42' },
      { token: current.accessToken },
    );
    expect(res.errors).toBeUndefined();
    expect(res.data?.changePassword.revokedSessions).toBe(2);
    for (const other of [laptop, phone]) {
      await expectRefused(other.accessToken, 'SESSION_REVOKED');
      await expectRefreshRefused(other.refreshToken);
    }
    // The current session goes on, access and refresh.
    expect((await s.gql(ME, {}, { token: current.accessToken })).errors).toBeUndefined();
    const refreshed = await s.gql(REFRESH, { t: current.refreshToken });
    expect(refreshed.errors).toBeUndefined();
    // Old password out, new one in.
    const old = await s.gql(LOGIN, { e: email, p: PASSWORD });
    expect(old.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    await signIn(email, 'the-new-password-42');
    const log = await s.t
      .superuser('activity_logs')
      .where({ action: 'user.password_change', company_id: w.b.id });
    expect(log).toHaveLength(1);
  });

  test('updateUser cannot change one’s own password without the current one', async () => {
    const admin = (await signIn(w.b.users.admin.email)).accessToken;
    const id = await userGlobalId(admin, w.b.users.admin.email);
    const res = await s.gql(UPDATE_USER, { id, p: 'taken-over-password' }, { token: admin });
    expect(res.errors?.[0].extensions).toMatchObject({
      code: 'FORBIDDEN',
      field: 'input.password',
    });
    await signIn(w.b.users.admin.email);
  });

  test('an admin reset revokes every session of the target', async () => {
    const email = 'reset-me@beta.test';
    const admin = (await signIn(w.b.users.admin.email)).accessToken;
    await addUser(admin, email);
    const one = await signIn(email);
    const two = await signIn(email);
    const id = await userGlobalId(admin, email);
    const res = await s.gql(UPDATE_USER, { id, p: 'reset-by-the-admin' }, { token: admin });
    expect(res.errors).toBeUndefined();
    for (const session of [one, two]) {
      await expectRefused(session.accessToken, 'SESSION_REVOKED');
      await expectRefreshRefused(session.refreshToken);
    }
    const bad = await s.gql(UPDATE_USER, { id, p: 'short' }, { token: admin });
    expect(bad.errors?.[0].extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.password',
    });
    await signIn(email, 'reset-by-the-admin');
  });

  test('API tokens and platform admins cannot use changePassword', async () => {
    const root = (await signIn(w.superAdmin.email)).accessToken;
    const res = await s.gql(CHANGE, { c: PASSWORD, n: 'whatever-password' }, { token: root });
    expect(res.errors?.[0].extensions?.code).toBe('FORBIDDEN');
  });
});

describe('API token expiry', () => {
  const CREATE = `mutation($n: String!, $e: DateTime, $never: Boolean) {
    createApiToken(input: { name: $n, scopes: ["customers:read"], expiresAt: $e, neverExpires: $never }) {
      token apiToken { expiresAt }
    }
  }`;

  test('expires after 90 days by default, at most a year ahead', async () => {
    const admin = (await signIn(w.a.users.admin.email)).accessToken;
    const created = await s.gql(CREATE, { n: 'default' }, { token: admin });
    expect(created.errors).toBeUndefined();
    const expiresAt = new Date(created.data?.createApiToken.apiToken.expiresAt).getTime();
    expect(Math.abs(expiresAt - (Date.now() + 90 * 86_400_000))).toBeLessThan(60_000);

    const tooLate = new Date(Date.now() + 366 * 86_400_000).toISOString();
    const late = await s.gql(CREATE, { n: 'late', e: tooLate }, { token: admin });
    expect(late.errors?.[0].extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'expiresAt',
    });
    const past = await s.gql(CREATE, { n: 'past', e: '2020-01-01T00:00:00Z' }, { token: admin });
    expect(past.errors?.[0].extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'expiresAt',
    });
    const soon = new Date(Date.now() + 7 * 86_400_000).toISOString();
    const ok = await s.gql(CREATE, { n: 'week', e: soon }, { token: admin });
    expect(ok.data?.createApiToken.apiToken.expiresAt).toBe(soon);
  });

  test('neverExpires only for admins, and not together with expiresAt', async () => {
    const admin = (await signIn(w.a.users.admin.email)).accessToken;
    const never = await s.gql(CREATE, { n: 'forever', never: true }, { token: admin });
    expect(never.errors).toBeUndefined();
    expect(never.data?.createApiToken.apiToken.expiresAt).toBeNull();
    const both = await s.gql(
      CREATE,
      { n: 'both', never: true, e: new Date(Date.now() + 86_400_000).toISOString() },
      { token: admin },
    );
    expect(both.errors?.[0].extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'neverExpires',
    });
    const manager = (await signIn(w.a.users.manager.email)).accessToken;
    const denied = await s.gql(CREATE, { n: 'm-forever', never: true }, { token: manager });
    expect(denied.errors?.[0].extensions?.code).toBe('FORBIDDEN');
  });
});

describe('platform admins', () => {
  test("a disabled or deleted platform admin's token is refused", async () => {
    const CREATE_ROOT = `mutation($e: EmailAddress!) {
      createPlatformAdmin(input: { email: $e, name: "Ops", password: "${PASSWORD}" }) { id }
    }`;
    const root = (await signIn(w.superAdmin.email)).accessToken;
    for (const email of ['gone@platform.test', 'off@platform.test']) {
      const res = await s.gql(CREATE_ROOT, { e: email }, { token: root });
      expect(res.errors).toBeUndefined();
    }
    const gone = (await signIn('gone@platform.test')).accessToken;
    const off = (await signIn('off@platform.test')).accessToken;
    expect((await s.gql('{ companies { id } }', {}, { token: gone })).errors).toBeUndefined();

    await s.t.superuser('platform_admins').where({ email: 'gone@platform.test' }).delete();
    await s.t
      .superuser('platform_admins')
      .where({ email: 'off@platform.test' })
      .update({ disabled_at: new Date() });
    await expectRefused(gone, 'UNKNOWN_ADMIN');
    await expectRefused(off, 'DISABLED');
    const chosen = await s.gql(
      '{ me { actorType } }',
      {},
      { token: gone, headers: { 'x-company-id': w.a.id } },
    );
    expect(chosen.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    // The remaining operator is unaffected.
    expect((await s.gql(ME, {}, { token: root })).errors).toBeUndefined();
  });
});

describe('platform admin sign-out', () => {
  test('logout ends the platform admin’s access tokens at once; a new sign-in works', async () => {
    const CREATE_ROOT = `mutation { createPlatformAdmin(input: { email: "leaver@platform.test", name: "Ops", password: "${PASSWORD}" }) { id } }`;
    const root = (await signIn(w.superAdmin.email)).accessToken;
    expect((await s.gql(CREATE_ROOT, {}, { token: root })).errors).toBeUndefined();
    const first = (await signIn('leaver@platform.test')).accessToken;
    const second = (await signIn('leaver@platform.test')).accessToken;
    const out = await s.gql('mutation { logout }', {}, { token: first });
    expect(out.data?.logout).toBe(true);
    await expectRefused(first, 'SESSION_REVOKED');
    await expectRefused(second, 'SESSION_REVOKED');
    const again = (await signIn('leaver@platform.test')).accessToken;
    expect((await s.gql(ME, {}, { token: again })).errors).toBeUndefined();
    // Another operator is not signed out.
    expect((await s.gql(ME, {}, { token: root })).errors).toBeUndefined();
  });
});

describe('cost of the check', () => {
  test('one statement per authenticated request, through an index', async () => {
    const token = (await signIn(w.a.users.staff.email)).accessToken;
    const seen: string[] = [];
    const onQuery = (q: { sql: string }) => seen.push(q.sql);
    // A query checks in the first round trip of its READ ONLY transaction (session_access_status,
    // as the runtime role); other operations call auth_user_access_status on the platform handle,
    // which calls the same function.
    s.t.db.knex.on('query', onQuery);
    s.t.db.platform.on('query', onQuery);
    try {
      await s.gql(ME, {}, { token });
    } finally {
      s.t.db.knex.off('query', onQuery);
      s.t.db.platform.off('query', onQuery);
    }
    expect(seen.filter((sql) => /\b(auth_user|session)_access_status\(/.test(sql))).toHaveLength(1);

    // The lookup itself: the function's statement uses the primary keys and the live-session index.
    const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as {
      sub: string;
      cid: string;
      sid: string;
    };
    const runs = 200;
    const t0 = performance.now();
    for (let i = 0; i < runs; i += 1) {
      await s.t.db.platform.raw('select * from auth_user_access_status(?, ?, ?)', [
        claims.cid,
        claims.sub,
        claims.sid,
      ]);
    }
    const perCallMs = (performance.now() - t0) / runs;
    const t1 = performance.now();
    for (let i = 0; i < runs; i += 1) await s.t.db.platform.raw('select 1');
    const baselineMs = (performance.now() - t1) / runs;
    const plan = (await s.t.superuser.raw(
      `explain (costs off)
       select 1 from user_sessions s
        where s.company_id = ? and s.family_id = ? and s.revoked_at is null
          and s.rotated_at is null and s.user_id = ? and s.expires_at > now()`,
      [claims.cid, claims.sid, claims.sub],
    )) as { rows: { 'QUERY PLAN': string }[] };
    const analyzed = (await s.t.superuser.raw(
      'explain (analyze, timing off) select * from auth_user_access_status(?, ?, ?)',
      [claims.cid, claims.sub, claims.sid],
    )) as { rows: { 'QUERY PLAN': string }[] };
    const planText = [...plan.rows, ...analyzed.rows].map((r) => r['QUERY PLAN']).join('\n');
    process.stdout.write(
      `access check: ${perCallMs.toFixed(3)} ms per call (select 1: ${baselineMs.toFixed(3)} ms)\n${planText}\n`,
    );
    expect(perCallMs).toBeLessThan(20);
  });
});

describe('archived companies', () => {
  // Last, since it archives company beta for good.
  test('access, refresh and API tokens of an archived company are refused', async () => {
    const session = await signIn(w.b.users.manager.email);
    const admin = (await signIn(w.b.users.admin.email)).accessToken;
    const created = await s.gql(
      'mutation { createApiToken(input: { name: "partner", scopes: ["customers:read"] }) { token } }',
      {},
      { token: admin },
    );
    const apiToken = created.data?.createApiToken.token as string;
    expect(
      (await s.gql('{ customers(first: 1) { totalCount } }', {}, { token: apiToken })).errors,
    ).toBeUndefined();

    await s.t.superuser('companies').where({ id: w.b.id }).update({ archived_at: new Date() });

    await expectRefused(session.accessToken, 'COMPANY_ARCHIVED');
    await expectRefused(admin, 'COMPANY_ARCHIVED');
    const refresh = await s.gql(REFRESH, { t: session.refreshToken });
    expect(refresh.errors?.[0].extensions).toMatchObject({
      code: 'UNAUTHENTICATED',
      details: { reason: 'COMPANY_ARCHIVED' },
    });
    const api = await s.gql('{ customers(first: 1) { totalCount } }', {}, { token: apiToken });
    expect(api.status).toBe(401);
    expect(api.errors?.[0].extensions).toMatchObject({
      code: 'UNAUTHENTICATED',
      details: { reason: 'COMPANY_ARCHIVED' },
    });
    const login = await s.gql(LOGIN, { e: w.b.users.staff.email, p: PASSWORD });
    expect(login.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    // The other company is unaffected.
    expect((await s.gql(ME, {}, { token: await w.login(w.a.users.admin.email) })).errors).toBe(
      undefined,
    );
  });
});
