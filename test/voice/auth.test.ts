import { runInContext } from '../../src/context/request-context';
import { hashSecret, rotateVoiceSecret } from '../../src/voice/secret';
import { signRetell } from '../../src/webhooks/signatures';
import { createTestDatabase, type TestDatabase } from '../helpers/pg';
import { insertCredential } from '../webhooks/helpers';
import {
  callFor,
  callFunction,
  counterValue,
  inbound,
  seedSalon,
  startVoiceApp,
  VOICE_KEY,
  type Salon,
} from './helpers';

/**
 * The three auth layers of the voice endpoints, each refusing alone, and all together: the source
 * address allowlist (X-Forwarded-For only through trusted proxies), the Retell signature (platform
 * key, or the company's own credential on its endpoint), and the per-company bearer secret.
 */
let t: TestDatabase;
let a: Salon;
let b: Salon;
let open: Awaited<ReturnType<typeof startVoiceApp>>;
const apps: Array<{ close: () => Promise<void> }> = [];

beforeAll(async () => {
  t = await createTestDatabase();
  a = await seedSalon(t.superuser, { language: 'en' });
  b = await seedSalon(t.superuser, { language: 'en' });
  open = await startVoiceApp(t.db);
  apps.push(open);
});
afterAll(async () => {
  for (const app of apps) await app.close();
  await t.drop();
});

const list = (url: string, salon: Salon, opts: Parameters<typeof callFunction>[4] = {}) =>
  callFunction(url, 'list_services', callFor(salon, salon.customerPhone), {}, opts);

describe('layer 1: source address', () => {
  test('the default allowlist (Retell only) refuses loopback, though signed', async () => {
    const app = await startVoiceApp(t.db, { voiceAllowedCidrs: ['100.20.5.228/32'] });
    apps.push(app);
    const r = await list(app.url, a);
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe('FORBIDDEN');
    expect(JSON.stringify(r.body)).not.toMatch(/Haircut/);
  });

  test('a spoofed X-Forwarded-For is ignored when no proxy is trusted', async () => {
    const app = await startVoiceApp(t.db, {
      voiceAllowedCidrs: ['100.20.5.228/32'],
      trustProxy: false,
    });
    apps.push(app);
    const r = await list(app.url, a, { headers: { 'x-forwarded-for': '100.20.5.228' } });
    expect(r.status).toBe(403);
  });

  test('X-Forwarded-For counts only through a configured trusted proxy', async () => {
    const app = await startVoiceApp(t.db, {
      voiceAllowedCidrs: ['100.20.5.228/32'],
      trustProxy: 'loopback',
    });
    apps.push(app);
    const ok = await list(app.url, a, { headers: { 'x-forwarded-for': '100.20.5.228' } });
    expect(ok.status).toBe(200);
    // The client-supplied left part of a chain is not the address the proxy saw.
    const chain = await list(app.url, a, {
      headers: { 'x-forwarded-for': '100.20.5.228, 203.0.113.9' },
    });
    expect(chain.status).toBe(403);
  });
});

describe('layer 2: signature', () => {
  test('missing, malformed, wrong key, tampered body and stale timestamp are 401', async () => {
    const calls = async () =>
      (await t.superuser('calls').where({ company_id: a.companyId })).length;
    const before = await calls();
    expect((await list(open.url, a, { signature: null })).status).toBe(401);
    expect((await list(open.url, a, { signature: 'v=1,d=zz' })).status).toBe(401);
    expect((await list(open.url, a, { key: 'another-key' })).status).toBe(401);
    expect((await list(open.url, a, { at: Date.now() - 6 * 60_000 })).status).toBe(401);
    const raw = JSON.stringify({ name: 'list_services', call: callFor(a, a.customerPhone) });
    const res = await fetch(`${open.url}/api/retell/functions/list_services`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-retell-signature': signRetell(raw, VOICE_KEY, Date.now()),
      },
      body: raw.replace('list_services', 'book_appointment'),
    });
    expect(res.status).toBe(401);
    expect(await calls()).toBe(before);
  });

  test('the published test vector verifies', () => {
    expect(signRetell('{"event":"call_ended"}', 'test-api-key', 1700000000000)).toBe(
      'v=1700000000000,d=07024cabe7dd8f6d1c6e4a8324ca92c812e6ad4a7ee506c04f7e462e3321823e',
    );
  });

  test("a company's own credential works on its endpoint, and only there", async () => {
    const key = 'company-a-retell-api-key-0001';
    const endpoint = await insertCredential(t.superuser, a.companyId, 'retell', key);
    const prefix = `/api/retell/${endpoint}`;
    const ok = await list(open.url, a, { key, prefix });
    expect(ok.status).toBe(200);
    expect(ok.body.ok).toBe(true);
    // The platform key does not verify a company endpoint, nor the company key the platform one.
    expect((await list(open.url, a, { prefix })).status).toBe(401);
    expect((await list(open.url, a, { key })).status).toBe(401);
    const inb = await inbound(
      open.url,
      { agent_id: a.agentId, from_number: a.customerPhone, to_number: a.number },
      { key, prefix },
    );
    expect(inb.body.call_inbound.dynamic_variables.company_name).toBe(a.name);
  });

  test("another company's call on a company endpoint is 403 and counted as cross-tenant", async () => {
    const key = 'company-a-retell-api-key-0002';
    const endpoint = await insertCredential(t.superuser, a.companyId, 'retell', key);
    const before = await counterValue(open.deps.metrics.crossTenantAttempts, { path: 'voice' });
    const r = await callFunction(
      open.url,
      'book_appointment',
      callFor(b, b.customerPhone),
      { service: 'Haircut', start: '2030-01-07T10:00' },
      { key, prefix: `/api/retell/${endpoint}` },
    );
    expect(r.status).toBe(403);
    const inb = await inbound(
      open.url,
      { agent_id: b.agentId, from_number: b.customerPhone, to_number: b.number },
      { key, prefix: `/api/retell/${endpoint}` },
    );
    expect(inb.status).toBe(403);
    expect(await counterValue(open.deps.metrics.crossTenantAttempts, { path: 'voice' })).toBe(
      before + 2,
    );
    expect(await t.superuser('calls').where({ company_id: b.companyId })).toHaveLength(0);
  });
});

describe('layer 3: per-company bearer secret', () => {
  let c: Salon;
  beforeAll(async () => {
    c = await seedSalon(t.superuser, { language: 'en' });
    await t
      .superuser('voice_agent_settings')
      .insert({ company_id: c.companyId, secret_hash: hashSecret('first-secret') })
      .onConflict('company_id')
      .merge();
  });

  test('missing or wrong secret is 401; the right one in either header passes', async () => {
    expect((await list(open.url, c)).status).toBe(401);
    expect((await list(open.url, c, { headers: { 'x-voice-agent-secret': 'nope' } })).status).toBe(
      401,
    );
    const ok = await list(open.url, c, { headers: { 'x-voice-agent-secret': 'first-secret' } });
    expect(ok.status).toBe(200);
    const bearer = await list(open.url, c, { headers: { authorization: 'Bearer first-secret' } });
    expect(bearer.status).toBe(200);
    // A company without a secret is not affected.
    expect((await list(open.url, a)).status).toBe(200);
    // Retell's inbound webhook carries no custom headers: address and signature guard it.
    const inb = await inbound(open.url, {
      agent_id: c.agentId,
      from_number: c.customerPhone,
      to_number: c.number,
    });
    expect(inb.body.call_inbound.dynamic_variables.company_name).toBe(c.name);
  });

  test("one company's secret does not open another company that has one", async () => {
    await t
      .superuser('voice_agent_settings')
      .insert({ company_id: b.companyId, secret_hash: hashSecret('b-secret') })
      .onConflict('company_id')
      .merge();
    const r = await list(open.url, b, { headers: { 'x-voice-agent-secret': 'first-secret' } });
    expect(r.status).toBe(401);
  });

  test('rotation: the new secret works at once, the old one until the overlap ends', async () => {
    const rotated = await runInContext(
      { deps: open.deps, actor: { kind: 'system', name: 'webhook' }, companyId: c.companyId },
      (ctx) => rotateVoiceSecret(ctx, { previousValidUntil: new Date(Date.now() + 60_000) }),
    );
    const row = await t
      .superuser('voice_agent_settings')
      .where({ company_id: c.companyId })
      .first();
    expect(row.secret_hash).toBe(hashSecret(rotated.secret));
    expect(JSON.stringify(row)).not.toContain(rotated.secret);
    const headers = (s: string) => ({ headers: { 'x-voice-agent-secret': s } });
    expect((await list(open.url, c, headers(rotated.secret))).status).toBe(200);
    expect((await list(open.url, c, headers('first-secret'))).status).toBe(200);
    await t
      .superuser('voice_agent_settings')
      .where({ company_id: c.companyId })
      .update({ previous_valid_until: new Date(Date.now() - 1000) });
    expect((await list(open.url, c, headers('first-secret'))).status).toBe(401);
    expect((await list(open.url, c, headers(rotated.secret))).status).toBe(200);
  });

  test('all three layers together', async () => {
    const app = await startVoiceApp(t.db, {
      voiceAllowedCidrs: ['100.20.5.228/32'],
      trustProxy: 'loopback',
    });
    apps.push(app);
    const row = await t
      .superuser('voice_agent_settings')
      .where({ company_id: c.companyId })
      .first();
    void row;
    const fromRetell = { 'x-forwarded-for': '100.20.5.228' };
    const rotated = await runInContext(
      { deps: open.deps, actor: { kind: 'system', name: 'webhook' }, companyId: c.companyId },
      (ctx) => rotateVoiceSecret(ctx, { previousValidUntil: new Date(0) }),
    );
    const good = { ...fromRetell, 'x-voice-agent-secret': rotated.secret };
    expect((await list(app.url, c, { headers: good })).status).toBe(200);
    expect(
      (await list(app.url, c, { headers: { 'x-voice-agent-secret': rotated.secret } })).status,
    ).toBe(403);
    expect((await list(app.url, c, { headers: good, key: 'wrong' })).status).toBe(401);
    expect((await list(app.url, c, { headers: fromRetell })).status).toBe(401);
  });
});

test('a suspended company gets no company data and its functions are refused', async () => {
  const d = await seedSalon(t.superuser, { language: 'de' });
  await t.superuser('companies').where({ id: d.companyId }).update({ suspended_at: new Date() });
  const suspended = await inbound(open.url, {
    agent_id: d.agentId,
    from_number: d.customerPhone,
    to_number: d.number,
  });
  expect(suspended.status).toBe(200);
  expect(suspended.body).toEqual({ call_inbound: {} });
  expect((await list(open.url, d)).status).toBe(403);
  await t.superuser('companies').where({ id: d.companyId }).update({ suspended_at: null });
  expect((await list(open.url, d)).status).toBe(200);
});

test('an unknown number gets no company data; an archived company neither', async () => {
  const unknown = await inbound(open.url, {
    from_number: '+4915112345678',
    to_number: '+4930999999',
  });
  expect(unknown.status).toBe(200);
  expect(unknown.body).toEqual({ call_inbound: {} });
  const d = await seedSalon(t.superuser, { language: 'en' });
  await t.superuser('companies').where({ id: d.companyId }).update({ archived_at: new Date() });
  const archived = await inbound(open.url, {
    agent_id: d.agentId,
    from_number: d.customerPhone,
    to_number: d.number,
  });
  expect(archived.body).toEqual({ call_inbound: {} });
  const fn = await list(open.url, d);
  expect(fn.status).toBe(403);
  await t.superuser('retell_agents').where({ id: a.agentRowId }).update({ active: false });
  await t.superuser('phone_numbers').where({ id: a.phoneNumberId }).update({ active: false });
  const inactive = await inbound(open.url, {
    agent_id: a.agentId,
    from_number: a.customerPhone,
    to_number: a.number,
  });
  expect(inactive.body).toEqual({ call_inbound: {} });
  await t.superuser('retell_agents').where({ id: a.agentRowId }).update({ active: true });
  await t.superuser('phone_numbers').where({ id: a.phoneNumberId }).update({ active: true });
});

describe('GET /api/retell/functions', () => {
  test('admins get every definition; others are refused', async () => {
    const roles: Record<string, any> = {
      admin: {
        kind: 'user',
        userId: 'u1',
        companyId: a.companyId,
        roles: ['admin'],
        staffId: null,
      },
      staff: {
        kind: 'user',
        userId: 'u2',
        companyId: a.companyId,
        roles: ['staff'],
        staffId: null,
      },
      root: { kind: 'platform_admin', adminId: 'p1' },
    };
    const app = await startVoiceApp(
      t.db,
      {},
      {
        authenticate: async (req) => ({
          actor: roles[req.header('x-test-actor') ?? ''] ?? { kind: 'anonymous' },
          companyId: a.companyId,
        }),
      },
    );
    apps.push(app);
    const get = (actor?: string, query = '') =>
      fetch(`${app.url}/api/retell/functions${query}`, {
        headers: actor ? { 'x-test-actor': actor } : {},
      });
    expect((await get()).status).toBe(401);
    expect((await get('staff')).status).toBe(403);
    for (const actor of ['admin', 'root']) {
      const res = await get(actor);
      expect(res.status).toBe(200);
      const body = (await res.json()) as any;
      expect(body.functions.map((f: any) => f.name)).toEqual([
        'list_services',
        'check_availability',
        'book_appointment',
        'find_appointments',
        'reschedule_appointment',
        'cancel_appointment',
        'request_callback',
      ]);
      for (const f of body.functions) {
        expect(f.url).toBe(`${app.url}/api/retell/functions/${f.name}`);
        expect(f.parameters.type).toBe('object');
        expect(f.description.length).toBeGreaterThan(10);
      }
    }
    const endpoint = '0b9a6c52-3f1e-4a8e-9c1d-5c1b2a3d4e5f';
    const own = (await (await get('admin', `?endpoint=${endpoint}`)).json()) as any;
    expect(own.inbound_webhook_url).toBe(`${app.url}/api/retell/${endpoint}/inbound`);
    expect(own.functions[0].url).toBe(`${app.url}/api/retell/${endpoint}/functions/list_services`);
    expect((await get('admin', '?endpoint=x')).status).toBe(400);
  });
});
