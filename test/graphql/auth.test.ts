import { randomUUID } from 'node:crypto';
import { accessTokenFor } from '../helpers/access-token';
import { startTestServer, type TestServer } from '../helpers/server';
import { createWorld, PASSWORD, type World } from '../helpers/world';

let s: TestServer;
let w: World;

const LOGIN = `mutation($e: String!, $p: String!) {
  login(input: { email: $e, password: $p }) { accessToken refreshToken refreshTokenExpiresAt }
}`;
const REFRESH =
  'mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken } }';

beforeAll(async () => {
  s = await startTestServer();
  w = await createWorld(s);
});
afterAll(async () => s.close());

describe('sign-in', () => {
  test('a user signs in and the access token works', async () => {
    const res = await s.gql(LOGIN, { e: w.a.users.manager.email, p: PASSWORD });
    expect(res.errors).toBeUndefined();
    expect(res.data?.login.refreshToken).toMatch(/^rt_/);
    const me = await s.gql(
      '{ me { email roles company { slug } } }',
      {},
      { token: res.data?.login.accessToken },
    );
    expect(me.data?.me).toEqual({
      email: w.a.users.manager.email,
      roles: ['MANAGER'],
      company: { slug: 'alpha' },
    });
    const log = await s.t
      .superuser('activity_logs')
      .where({ action: 'auth.login', actor_id: w.a.users.manager.id });
    expect(log).toHaveLength(1);
  });

  test('me.company is the same view as company: every field set, the region included', async () => {
    const res = await s.gql(LOGIN, { e: w.a.users.manager.email, p: PASSWORD });
    const fields = 'id name slug timezone defaultRegion currency createdAt';
    const me = await s.gql(
      `{ me { company { ${fields} } } company { ${fields} } }`,
      {},
      { token: res.data?.login.accessToken },
    );
    expect(me.errors).toBeUndefined();
    expect(me.data?.me.company).toEqual(me.data?.company);
    expect(me.data?.company.defaultRegion).toMatch(/^[A-Z]{2}$/);
  });

  test('unknown user and wrong password get the same error in about the same time', async () => {
    const timed = async (email: string) => {
      const t0 = performance.now();
      const res = await s.gql(LOGIN, { e: email, p: 'wrong-password-123' });
      return { ms: performance.now() - t0, error: res.errors?.[0] };
    };
    await timed('warmup@nowhere.test');
    const unknown = await timed('nobody@nowhere.test');
    const wrong = await timed(w.b.users.staff.email);
    expect(unknown.error?.message).toBe(wrong.error?.message);
    expect(unknown.error?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(wrong.error?.extensions?.code).toBe('UNAUTHENTICATED');
    // Both spend one argon2 verification; allow generous noise on a shared machine.
    expect(Math.abs(unknown.ms - wrong.ms)).toBeLessThan(
      Math.max(unknown.ms, wrong.ms) * 0.75 + 30,
    );
  });

  test('repeated failures are rate limited per account', async () => {
    const email = w.b.users.manager.email;
    const codes: string[] = [];
    for (let i = 0; i < 7; i += 1) {
      const res = await s.gql(LOGIN, { e: email, p: `wrong-${i}` });
      codes.push(res.errors?.[0].extensions?.code);
    }
    expect(codes.slice(0, 5)).toEqual(Array(5).fill('UNAUTHENTICATED'));
    expect(codes.slice(5)).toEqual(['RATE_LIMITED', 'RATE_LIMITED']);
    // Even the right password is refused while the account is locked.
    const right = await s.gql(LOGIN, { e: email, p: PASSWORD });
    expect(right.errors?.[0].extensions?.code).toBe('RATE_LIMITED');
    expect(right.errors?.[0].extensions?.details?.retryAfterSeconds).toBeGreaterThan(0);
  });

  test('a tampered or expired access token is UNAUTHENTICATED, not anonymous', async () => {
    const token = await w.login(w.a.users.admin.email);
    const tampered = `${token.slice(0, -4)}AAAA`;
    const res = await s.gql('{ me { email } }', {}, { token: tampered });
    expect(res.status).toBe(401);
    expect(res.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
  });

  test('a token accepted before is still refused once it expires', async () => {
    // The server verifies a token's signature once and remembers it; the expiry is checked on
    // every request all the same.
    const sub = randomUUID();
    const token = await accessTokenFor(
      s.t.superuser,
      s.server.deps.config.jwtSecret,
      { sub, typ: 'user', cid: w.a.id, roles: ['admin'] },
      2,
    );
    // The session outlives the token, so only the token's own expiry can refuse it.
    await s.t
      .superuser('user_sessions')
      .where({ user_id: sub })
      .update({ expires_at: new Date(Date.now() + 3_600_000) });
    const first = await s.gql('{ me { actorType } }', {}, { token });
    expect(first.errors).toBeUndefined();
    const again = await s.gql('{ me { actorType } }', {}, { token });
    expect(again.errors).toBeUndefined();
    const expiresMs =
      JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).exp * 1000;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresMs - Date.now()) + 50));
    const expired = await s.gql('{ me { actorType } }', {}, { token });
    expect(expired.status).toBe(401);
    expect(expired.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
  });
});

describe('refresh tokens', () => {
  test('rotate once; reuse of a rotated token revokes the session family', async () => {
    const login = await s.gql(LOGIN, { e: w.a.users.staff.email, p: PASSWORD });
    const first = login.data?.login.refreshToken as string;
    const r1 = await s.gql(REFRESH, { t: first });
    expect(r1.errors).toBeUndefined();
    const second = r1.data?.refreshToken.refreshToken as string;
    expect(second).not.toBe(first);

    const reuse = await s.gql(REFRESH, { t: first });
    expect(reuse.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    // The family is revoked: the newer token no longer works either.
    const after = await s.gql(REFRESH, { t: second });
    expect(after.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
  });

  test('logout revokes the refresh token', async () => {
    const login = await s.gql(LOGIN, { e: w.b.users.admin.email, p: PASSWORD });
    const { accessToken, refreshToken } = login.data?.login as {
      accessToken: string;
      refreshToken: string;
    };
    const out = await s.gql('mutation { logout }', {}, { token: accessToken });
    expect(out.data?.logout).toBe(true);
    const res = await s.gql(REFRESH, { t: refreshToken });
    expect(res.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
  });

  test('a malformed refresh token is UNAUTHENTICATED', async () => {
    const res = await s.gql(REFRESH, { t: 'rt_nonsense' });
    expect(res.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
  });
});

describe('API tokens', () => {
  test('shown once, stored hashed, scoped, revocable, with last-used time', async () => {
    const admin = await w.login(w.a.users.admin.email);
    const created = await s.gql(
      'mutation { createApiToken(input: { name: "crm", scopes: ["customers:read"] }) { token apiToken { id tokenPrefix scopes lastUsedAt } } }',
      {},
      { token: admin },
    );
    expect(created.errors).toBeUndefined();
    const { token, apiToken } = created.data?.createApiToken as {
      token: string;
      apiToken: { id: string; tokenPrefix: string; lastUsedAt: string | null };
    };
    expect(token.startsWith(apiToken.tokenPrefix)).toBe(true);
    const stored = await s.t
      .superuser('api_tokens')
      .where({ company_id: w.a.id, name: 'crm' })
      .first();
    expect(stored.token_hash).not.toContain(token.slice(20));
    expect(JSON.stringify(stored)).not.toContain(token);

    const ok = await s.gql('{ customers(first: 1) { totalCount } }', {}, { token });
    expect(ok.errors).toBeUndefined();
    const denied = await s.gql('{ appointments(first: 1) { totalCount } }', {}, { token });
    expect(denied.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const listed = await s.gql(
      '{ apiTokens(first: 10) { nodes { name lastUsedAt } } }',
      {},
      { token: admin },
    );
    const crm = (
      listed.data?.apiTokens.nodes as { name: string; lastUsedAt: string | null }[]
    ).find((n) => n.name === 'crm');
    expect(crm?.lastUsedAt).not.toBeNull();

    const revoked = await s.gql(
      'mutation($id: ID!) { revokeApiToken(id: $id) { revokedAt } }',
      { id: apiToken.id },
      { token: admin },
    );
    expect(revoked.data?.revokeApiToken.revokedAt).not.toBeNull();
    const after = await s.gql('{ customers(first: 1) { totalCount } }', {}, { token });
    expect(after.status).toBe(401);
    expect(after.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
  });

  test('an expired token is refused and unknown scopes are BAD_USER_INPUT', async () => {
    const admin = await w.login(w.a.users.admin.email);
    const bad = await s.gql(
      'mutation { createApiToken(input: { name: "x", scopes: ["everything"] }) { token } }',
      {},
      { token: admin },
    );
    expect(bad.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'scopes' });
    const created = await s.gql(
      'mutation { createApiToken(input: { name: "short", scopes: ["customers:read"] }) { token } }',
      {},
      { token: admin },
    );
    const token = created.data?.createApiToken.token as string;
    await s.t
      .superuser('api_tokens')
      .where({ name: 'short' })
      .update({ expires_at: new Date(Date.now() - 1000) });
    const res = await s.gql('{ customers(first: 1) { totalCount } }', {}, { token });
    expect(res.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
  });
});

describe('no privilege escalation', () => {
  const CREATE = `mutation($e: EmailAddress!, $r: [Role!]!) {
    createUser(input: { email: $e, name: "N", password: "long-enough-password", roles: $r }) { id roles }
  }`;

  test('managers create staff users but not admins or managers', async () => {
    const manager = await w.login(w.a.users.manager.email);
    const staff = await s.gql(
      CREATE,
      { e: 'm-staff@alpha.test', r: ['STAFF'] },
      { token: manager },
    );
    expect(staff.errors).toBeUndefined();
    for (const role of ['ADMIN', 'MANAGER']) {
      const res = await s.gql(CREATE, { e: `m-${role}@alpha.test`, r: [role] }, { token: manager });
      expect(res.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    }
  });

  test('nobody grants SUPER_ADMIN inside a company, not even an admin', async () => {
    const admin = await w.login(w.a.users.admin.email);
    const res = await s.gql(
      CREATE,
      { e: 'root2@alpha.test', r: ['SUPER_ADMIN'] },
      { token: admin },
    );
    expect(res.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    expect(await s.t.superuser('users').where({ email: 'root2@alpha.test' })).toHaveLength(0);
  });

  test('only a super admin creates a super admin', async () => {
    const CREATE_ROOT = `mutation($e: EmailAddress!) {
      createPlatformAdmin(input: { email: $e, name: "Ops", password: "long-enough-password" }) { id email }
    }`;
    const admin = await w.login(w.a.users.admin.email);
    const denied = await s.gql(CREATE_ROOT, { e: 'ops1@platform.test' }, { token: admin });
    expect(denied.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const root = await w.login(w.superAdmin.email);
    const created = await s.gql(CREATE_ROOT, { e: 'ops2@platform.test' }, { token: root });
    expect(created.data?.createPlatformAdmin.email).toBe('ops2@platform.test');
    const again = await s.gql(CREATE_ROOT, { e: 'ops2@platform.test' }, { token: root });
    expect(again.errors?.[0].extensions).toMatchObject({ code: 'CONFLICT', field: 'input.email' });
    const rows = await s.t.superuser('platform_admins').select('email').orderBy('email');
    expect(rows.map((r: { email: string }) => r.email)).toEqual([
      'ops2@platform.test',
      'root@platform.test',
    ]);
    const login = await s.gql(LOGIN, { e: 'ops2@platform.test', p: 'long-enough-password' });
    expect(login.data?.login.accessToken).toBeDefined();
  });

  test('nobody changes their own roles', async () => {
    const manager = await w.login(w.a.users.manager.email);
    const me = await s.gql('{ me { user { id } } }', {}, { token: manager });
    const res = await s.gql(
      'mutation($id: ID!) { updateUser(input: { id: $id, roles: [ADMIN] }) { roles } }',
      { id: me.data?.me.user.id },
      { token: manager },
    );
    expect(res.errors?.[0].extensions).toMatchObject({ code: 'FORBIDDEN', field: 'input.roles' });
    const admin = await w.login(w.a.users.admin.email);
    const adminMe = await s.gql('{ me { user { id } } }', {}, { token: admin });
    const self = await s.gql(
      'mutation($id: ID!) { updateUser(input: { id: $id, roles: [STAFF] }) { roles } }',
      { id: adminMe.data?.me.user.id },
      { token: admin },
    );
    expect(self.errors?.[0].extensions?.code).toBe('FORBIDDEN');
  });

  test('a manager cannot change an admin', async () => {
    const manager = await w.login(w.a.users.manager.email);
    const admin = await w.login(w.a.users.admin.email);
    const users = await s.gql(
      '{ users(first: 50, filter: { role: ADMIN }) { nodes { id } } }',
      {},
      { token: admin },
    );
    const adminId = users.data?.users.nodes[0].id;
    const res = await s.gql(
      'mutation($id: ID!) { updateUser(input: { id: $id, disabled: true }) { id } }',
      { id: adminId },
      { token: manager },
    );
    expect(res.errors?.[0].extensions?.code).toBe('FORBIDDEN');
  });

  test('an admin changes roles of others, audited', async () => {
    const admin = await w.login(w.a.users.admin.email);
    const created = await s.gql(
      CREATE,
      { e: 'promote@alpha.test', r: ['STAFF'] },
      { token: admin },
    );
    const id = created.data?.createUser.id;
    const res = await s.gql(
      'mutation($id: ID!) { updateUser(input: { id: $id, roles: [MANAGER] }) { roles } }',
      { id },
      { token: admin },
    );
    expect(res.data?.updateUser.roles).toEqual(['MANAGER']);
    const log = await s.t
      .superuser('activity_logs')
      .where({ company_id: w.a.id, action: 'user.roles_change' });
    expect(log).toHaveLength(1);
    expect(log[0].details).toEqual({ from: ['staff'], to: ['manager'] });
  });
});
