import { Writable } from 'node:stream';
import pino from 'pino';
import { startServer, type AppServer } from '../../src/app';
import { testConfig } from '../../src/config';
import { signCalcom, signRetell } from '../../src/webhooks/signatures';
import { createTestDatabase, type TestDatabase } from '../helpers/pg';
import { graphqlClient, type TestServer } from '../helpers/server';
import { createWorld, globalId, type World } from '../helpers/world';
import { testDeps } from '../helpers/deps';

/**
 * Provider credentials over GraphQL and the webhook endpoints they create, on a real server whose
 * logs are kept in memory (at trace level) to prove no secret is ever logged.
 */
let t: TestDatabase;
let server: AppServer;
let s: TestServer;
let w: World;
let adminA: string;
let adminB: string;
let managerA: string;
let root: string;
const logLines: string[] = [];
const secrets: string[] = [];

beforeAll(async () => {
  t = await createTestDatabase();
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(chunk.toString('utf8'));
      done();
    },
  });
  server = await startServer(
    testDeps(t.db, {
      config: testConfig({ port: 0, host: '127.0.0.1', databaseUrl: t.url, logLevel: 'trace' }),
      logger: pino({ level: 'trace' }, sink),
    }),
  );
  s = {
    t,
    server,
    url: server.url,
    close: async () => undefined,
    gql: graphqlClient(server.url),
  };
  w = await createWorld(s);
  adminA = await w.login(w.a.users.admin.email);
  adminB = await w.login(w.b.users.admin.email);
  managerA = await w.login(w.a.users.manager.email);
  root = await w.login(w.superAdmin.email);
});
afterAll(async () => {
  await server?.close();
  await t?.drop();
});

const FIELDS = `id provider label endpointId endpointPath active createdAt rotatedAt previousValidUntil revokedAt lastUsedAt`;
const CREATE = `mutation($input: CreateProviderCredentialInput!) {
  createProviderCredential(input: $input) { secret credential { ${FIELDS} } } }`;
const ROTATE = `mutation($input: RotateProviderCredentialInput!) {
  rotateProviderCredential(input: $input) { secret credential { ${FIELDS} } } }`;
const REVOKE = `mutation($id: ID!) { revokeProviderCredential(id: $id) { ${FIELDS} } }`;

async function ok(query: string, variables: Record<string, unknown>, token: string, headers = {}) {
  const res = await s.gql(query, variables, { token, headers });
  expect(res.errors).toBeUndefined();
  return res.data as Record<string, any>;
}

async function deliverCalcom(path: string, secret: string, uid = `u-${Math.random()}`) {
  const raw = JSON.stringify({
    triggerEvent: 'BOOKING_CREATED',
    createdAt: new Date().toISOString(),
    payload: { uid, eventTypeId: 9191 },
  });
  const res = await fetch(`${s.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-cal-signature-256': signCalcom(raw, secret) },
    body: raw,
  });
  return res.status;
}

describe('Cal.com credential lifecycle', () => {
  let credential: Record<string, any>;
  let first: string;

  test('an admin creates one: the secret is returned once and stored sealed', async () => {
    const data = await ok(
      CREATE,
      { input: { provider: 'calcom', label: 'Main booking page' } },
      adminA,
    );
    first = data.createProviderCredential.secret;
    credential = data.createProviderCredential.credential;
    secrets.push(first);
    expect(first).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    expect(credential).toMatchObject({
      provider: 'calcom',
      label: 'Main booking page',
      active: true,
      endpointPath: `/api/webhooks/calcom/${credential.endpointId}`,
      revokedAt: null,
      lastUsedAt: null,
    });
    const row = await t
      .superuser('provider_credentials')
      .where({ id: credential.endpointId })
      .first();
    expect(row.company_id).toBe(w.a.id);
    expect(row.secret_key_id).toBe('dev');
    expect(Buffer.isBuffer(row.secret_ciphertext)).toBe(true);
    expect(row.secret_ciphertext.includes(Buffer.from(first))).toBe(false);
    expect(JSON.stringify(row)).not.toContain(first.slice(6, 30));
  });

  test('the list never carries a secret, and the schema has no field that could', async () => {
    const res = await s.gql(
      `{ providerCredentials(first: 10) { totalCount nodes { ${FIELDS} } } }`,
      {},
      {
        token: adminA,
      },
    );
    expect(res.errors).toBeUndefined();
    expect(res.data!.providerCredentials.totalCount).toBe(1);
    expect(JSON.stringify(res.data)).not.toContain(first);
    const fields = await s.gql(
      '{ __type(name: "ProviderCredential") { fields { name } } }',
      {},
      { token: adminA },
    );
    const names = fields.data!.__type.fields.map((f: { name: string }) => f.name);
    expect(names.filter((n: string) => /secret|cipher|key/i.test(n))).toEqual([]);
  });

  test('its endpoint verifies with the secret and records the use', async () => {
    expect(await deliverCalcom(credential.endpointPath, first)).toBe(202);
    expect(await deliverCalcom(credential.endpointPath, 'not-the-secret-0123456789')).toBe(401);
    const row = await t
      .superuser('provider_credentials')
      .where({ id: credential.endpointId })
      .first();
    expect(row.last_used_at).toBeInstanceOf(Date);
  });

  test('rotation: both secrets verify during the overlap, only the new one after it', async () => {
    const until = new Date(Date.now() + 3600_000).toISOString();
    const data = await ok(
      ROTATE,
      { input: { id: credential.id, previousValidUntil: until } },
      adminA,
    );
    const second = data.rotateProviderCredential.secret;
    secrets.push(second);
    expect(second).not.toBe(first);
    expect(data.rotateProviderCredential.credential.previousValidUntil).toBe(until);
    expect(data.rotateProviderCredential.credential.rotatedAt).not.toBeNull();
    expect(await deliverCalcom(credential.endpointPath, first)).toBe(202);
    expect(await deliverCalcom(credential.endpointPath, second)).toBe(202);
    // The overlap ends.
    await t
      .superuser('provider_credentials')
      .where({ id: credential.endpointId })
      .update({ previous_valid_until: new Date(Date.now() - 1000) });
    expect(await deliverCalcom(credential.endpointPath, first)).toBe(401);
    expect(await deliverCalcom(credential.endpointPath, second)).toBe(202);

    // A pasted secret, with the overlap ended at once.
    const pasted = 'pasted-from-calcom-settings-0123456789';
    secrets.push(pasted);
    const again = await ok(
      ROTATE,
      {
        input: { id: credential.id, secret: pasted, previousValidUntil: new Date().toISOString() },
      },
      adminA,
    );
    expect(again.rotateProviderCredential).toMatchObject({
      secret: pasted,
      credential: { previousValidUntil: null },
    });
    expect(await deliverCalcom(credential.endpointPath, second)).toBe(401);
    expect(await deliverCalcom(credential.endpointPath, pasted)).toBe(202);
  });

  test('revocation: the endpoint answers 401 from then on', async () => {
    const data = await ok(REVOKE, { id: credential.id }, adminA);
    expect(data.revokeProviderCredential).toMatchObject({ active: false });
    expect(data.revokeProviderCredential.revokedAt).not.toBeNull();
    expect(await deliverCalcom(credential.endpointPath, secrets[2])).toBe(401);
    const rotate = await s.gql(ROTATE, { input: { id: credential.id } }, { token: adminA });
    expect(rotate.errors?.[0].extensions).toMatchObject({ code: 'CONFLICT', field: 'id' });
  });

  test('every change is in the company activity log, without the secret', async () => {
    const logs = await t
      .superuser('activity_logs')
      .where({ company_id: w.a.id, subject_id: credential.endpointId })
      .orderBy('created_at');
    expect(logs.map((l: { action: string }) => l.action)).toEqual([
      'provider_credential.create',
      'provider_credential.rotate',
      'provider_credential.rotate',
      'provider_credential.revoke',
    ]);
    for (const secret of secrets) expect(JSON.stringify(logs)).not.toContain(secret);
  });
});

describe('Retell credentials and input errors', () => {
  test('a Retell account needs its pasted API key; its endpoint verifies with it', async () => {
    const missing = await s.gql(
      CREATE,
      { input: { provider: 'retell', label: 'Own Retell' } },
      {
        token: adminA,
      },
    );
    expect(missing.errors?.[0].extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.secret',
    });
    const apiKey = 'key_0123456789abcdef0123456789';
    secrets.push(apiKey);
    const data = await ok(
      CREATE,
      { input: { provider: 'retell', label: 'Own Retell', secret: apiKey } },
      adminA,
    );
    const path = data.createProviderCredential.credential.endpointPath;
    expect(path).toMatch(/^\/api\/webhooks\/retell\/[0-9a-f-]{36}$/);
    const raw = JSON.stringify({
      event: 'call_started',
      call: { call_id: 'own-1', agent_id: 'zzz' },
    });
    const res = await fetch(`${s.url}${path}`, {
      method: 'POST',
      headers: { 'x-retell-signature': signRetell(raw, apiKey, Date.now()) },
      body: raw,
    });
    expect(res.status).toBe(202);
  });

  test.each([
    [{ provider: 'zoom', label: 'x' }, 'input.provider'],
    [{ provider: 'calcom', label: '' }, 'input.label'],
    [{ provider: 'calcom', label: 'x', secret: 'short' }, 'input.secret'],
    [{ provider: 'calcom', label: 'x', secret: 'has spaces in it 0123456789' }, 'input.secret'],
    [{ provider: 'calcom', label: 'x', secret: 'no-secret-provided' }, 'input.secret'],
  ])('bad input %j is BAD_USER_INPUT on %s', async (input, field) => {
    const res = await s.gql(CREATE, { input }, { token: adminA });
    expect(res.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
  });

  test('a rotation overlap beyond 30 days is refused', async () => {
    const data = await ok(CREATE, { input: { provider: 'calcom', label: 'Overlap' } }, adminA);
    secrets.push(data.createProviderCredential.secret);
    const res = await s.gql(
      ROTATE,
      {
        input: {
          id: data.createProviderCredential.credential.id,
          previousValidUntil: new Date(Date.now() + 40 * 86400_000).toISOString(),
        },
      },
      { token: adminA },
    );
    expect(res.errors?.[0].extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.previousValidUntil',
    });
  });
});

describe('who may manage credentials', () => {
  test('managers are refused; another company’s admin cannot see or touch them', async () => {
    const manager = await s.gql(
      CREATE,
      { input: { provider: 'calcom', label: 'm' } },
      {
        token: managerA,
      },
    );
    expect(manager.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const list = await s.gql(
      '{ providerCredentials(first: 5) { totalCount } }',
      {},
      { token: managerA },
    );
    expect(list.errors?.[0].extensions?.code).toBe('FORBIDDEN');

    const ofA = await t.superuser('provider_credentials').where({ company_id: w.a.id }).first();
    const idOfA = globalId('ProviderCredential', w.a.id, ofA.id);
    const before = (await server.deps.metrics.crossTenantAttempts.get()).values.reduce(
      (n, v) => n + v.value,
      0,
    );
    for (const [query, variables] of [
      [ROTATE, { input: { id: idOfA } }],
      [REVOKE, { id: idOfA }],
    ] as const) {
      const res = await s.gql(query, variables, { token: adminB });
      expect(res.errors?.[0].extensions?.code).toBe('NOT_FOUND');
    }
    const after = (await server.deps.metrics.crossTenantAttempts.get()).values.reduce(
      (n, v) => n + v.value,
      0,
    );
    expect(after).toBe(before + 2);
    const listB = await ok('{ providerCredentials(first: 5) { totalCount } }', {}, adminB);
    expect(listB.providerCredentials.totalCount).toBe(0);
  });

  test('a super admin acting in a company manages its credentials, audited as such', async () => {
    const data = await ok(
      CREATE,
      { input: { provider: 'calcom', label: 'Set up by support' } },
      root,
      { 'x-company-id': w.b.id },
    );
    secrets.push(data.createProviderCredential.secret);
    const row = await t
      .superuser('activity_logs')
      .where({ company_id: w.b.id, action: 'provider_credential.create' })
      .first();
    expect(row.actor_type).toBe('platform_admin');
  });
});

describe('numbers and agents are assigned by super admins only', () => {
  const SAVE =
    'mutation($n: String) { savePhoneNumber(input: { number: $n, label: "Desk" }) { id numberE164 label } }';
  const ASSIGN = `mutation($input: AssignRetellAgentInput!) { assignRetellAgent(input: $input) { id agentId name active } }`;

  test('an admin cannot assign a number, a super admin can; a second company is refused', async () => {
    const byAdmin = await s.gql(SAVE, { n: '+49 30 5550001' }, { token: adminA });
    expect(byAdmin.errors?.[0].extensions).toMatchObject({
      code: 'FORBIDDEN',
      field: 'input.number',
    });
    const assigned = await ok(SAVE, { n: '+49 30 5550001' }, root, { 'x-company-id': w.a.id });
    expect(assigned.savePhoneNumber.numberE164).toBe('+49305550001');
    const second = await s.gql(
      SAVE,
      { n: '+49 30 5550001' },
      {
        token: root,
        headers: { 'x-company-id': w.b.id },
      },
    );
    expect(second.errors?.[0].extensions).toMatchObject({
      code: 'CONFLICT',
      field: 'input.number',
    });
    // The admin still edits the number's other details.
    const relabel = await ok(
      'mutation($id: ID!) { savePhoneNumber(input: { id: $id, label: "Reception", active: false }) { label } }',
      { id: assigned.savePhoneNumber.id },
      adminA,
    );
    expect(relabel.savePhoneNumber.label).toBe('Reception');
  });

  test('Retell agents: super admin only, one company per agent id, deactivation', async () => {
    const input = { agentId: 'agent_front_desk_1', name: 'Front desk' };
    const byAdmin = await s.gql(ASSIGN, { input }, { token: adminA });
    expect(byAdmin.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const inA = await ok(ASSIGN, { input }, root, { 'x-company-id': w.a.id });
    expect(inA.assignRetellAgent).toMatchObject({ agentId: 'agent_front_desk_1', active: true });
    const inB = await s.gql(
      ASSIGN,
      { input },
      { token: root, headers: { 'x-company-id': w.b.id } },
    );
    expect(inB.errors?.[0].extensions).toMatchObject({ code: 'CONFLICT', field: 'input.agentId' });
    const off = await ok(
      ASSIGN,
      { input: { agentId: 'agent_front_desk_1', active: false } },
      root,
      {
        'x-company-id': w.a.id,
      },
    );
    expect(off.assignRetellAgent.active).toBe(false);
    const bad = await s.gql(
      ASSIGN,
      { input: { agentId: 'a b', name: 'x' } },
      {
        token: root,
        headers: { 'x-company-id': w.a.id },
      },
    );
    expect(bad.errors?.[0].extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.agentId',
    });
    const audit = await t
      .superuser('activity_logs')
      .where({ company_id: w.a.id })
      .whereIn('action', ['retell_agent.assign', 'retell_agent.update']);
    expect(audit).toHaveLength(2);
  });
});

test('no secret appears in any log line', () => {
  const all = logLines.join('');
  expect(all.length).toBeGreaterThan(0);
  expect(secrets.length).toBeGreaterThanOrEqual(5);
  for (const secret of secrets) expect(all).not.toContain(secret);
});
