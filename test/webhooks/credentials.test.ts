import { Writable } from 'node:stream';
import pino from 'pino';
import type { AppDeps } from '../../src/context/deps';
import { signRetell } from '../../src/webhooks/signatures';
import { createTestDatabase, type TestDatabase } from '../helpers/pg';
import {
  CALCOM_SECRET,
  calcomEvent,
  insertCredential,
  postCalcom,
  postRetell,
  retellEvent,
  seedCompany,
  startWebhookApp,
  unique,
  webhookConfig,
  type SeededCompany,
} from './helpers';
import { testDeps } from '../helpers/deps';

/**
 * Company endpoints: a delivery verified with a company's credential may only touch that company.
 * The server logs at trace level into memory, so the test can check no secret is ever logged.
 */
let t: TestDatabase;
let deps: AppDeps;
let app: Awaited<ReturnType<typeof startWebhookApp>>;
let a: SeededCompany;
let b: SeededCompany;
const logLines: string[] = [];

const B_SECRET = 'company-b-calcom-secret-0123456789';
const A_RETELL_KEY = 'key_company_a_own_retell_account_01';

beforeAll(async () => {
  t = await createTestDatabase();
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(chunk.toString('utf8'));
      done();
    },
  });
  deps = testDeps(t.db, { config: webhookConfig(), logger: pino({ level: 'trace' }, sink) });
  app = await startWebhookApp(deps, { worker: { backoffBaseMs: 60_000 } });
  a = await seedCompany(t.superuser);
  b = await seedCompany(t.superuser);
});
afterAll(async () => {
  await app?.close();
  await t.drop();
});

const eventRow = (id: string) => t.superuser('webhook_events').where({ id }).first();
const eventCount = async () => Number((await t.superuser('webhook_events').count({ n: '*' }))[0].n);
const crossTenant = async (path: string) =>
  (await deps.metrics.crossTenantAttempts.get()).values.find((v) => v.labels.path === path)
    ?.value ?? 0;
const rejections = async (reason: string) =>
  (await deps.metrics.webhookSignatureRejections.get()).values
    .filter((v) => v.labels.reason === reason)
    .reduce((sum, v) => sum + v.value, 0);

function booking(co: SeededCompany, uid: string, email: string) {
  return calcomEvent('BOOKING_CREATED', {
    uid,
    eventTypeId: co.eventTypeId,
    startTime: '2027-06-01T09:00:00.000Z',
    endTime: '2027-06-01T09:30:00.000Z',
    responses: { name: { value: 'Mallory' }, email: { value: email } },
    attendees: [{ email, name: 'Mallory', timeZone: 'Europe/Berlin' }],
  });
}

describe('Cal.com company endpoints', () => {
  test("B's secret for A's event type: nothing is written in A, and the attempt is counted", async () => {
    const bEndpoint = await insertCredential(t.superuser, b.companyId, 'calcom', B_SECRET);
    const uid = unique('attack');
    const email = `${unique('mallory')}@example.test`;
    const before = await crossTenant('webhook_calcom');

    // Signed with B's secret on B's endpoint, naming A's event type.
    const res = await postCalcom(app.url, booking(a, uid, email), {
      endpoint: bEndpoint,
      secret: B_SECRET,
    });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    await app.worker.drain();

    const ev = await eventRow(id);
    expect(ev).toMatchObject({
      status: 'unroutable',
      resolved_company_id: null,
      credential_company_id: b.companyId,
    });
    expect(ev.last_error).toMatch(/cross-tenant/);
    expect(await t.superuser('appointments').where({ calcom_booking_uid: uid })).toHaveLength(0);
    expect(await t.superuser('customers').where({ email })).toHaveLength(0);
    expect(await crossTenant('webhook_calcom')).toBe(before + 1);

    // B's secret on A's endpoint does not verify at all.
    const onA = await postCalcom(app.url, booking(a, unique('attack'), email), {
      endpoint: a.calcomEndpointId,
      secret: B_SECRET,
    });
    expect(onA.status).toBe(401);

    // And the shared URL, which used to accept any configured secret, accepts none.
    const shared = await postCalcom(app.url, booking(a, unique('attack'), email), {
      secret: CALCOM_SECRET,
    });
    expect(shared.status).toBe(401);
    expect(await rejections('no_endpoint')).toBeGreaterThanOrEqual(1);
  });

  test('the right credential books in its own company', async () => {
    const uid = unique('bk');
    const email = `${unique('jane')}@example.test`;
    const res = await postCalcom(app.url, booking(a, uid, email), { endpoint: a.calcomEndpointId });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    await app.worker.drain();
    expect(await eventRow(id)).toMatchObject({
      status: 'processed',
      resolved_company_id: a.companyId,
      credential_company_id: a.companyId,
    });
    expect(await t.superuser('appointments').where({ calcom_booking_uid: uid })).toEqual([
      expect.objectContaining({ company_id: a.companyId }),
    ]);
    const cred = await t
      .superuser('provider_credentials')
      .where({ id: a.calcomEndpointId })
      .first();
    expect(cred.last_used_at).toBeInstanceOf(Date);
  });

  test('another company mapping the same event type id cannot block or take the booking', async () => {
    await t.superuser('team_event_type_mappings').insert({
      company_id: b.companyId,
      calcom_event_type_id: a.eventTypeId,
      service_id: b.serviceId,
    });
    const uid = unique('bk');
    const res = await postCalcom(app.url, booking(a, uid, 'own@example.test'), {
      endpoint: a.calcomEndpointId,
    });
    const { id } = (await res.json()) as { id: string };
    await app.worker.drain();
    expect(await eventRow(id)).toMatchObject({
      status: 'processed',
      resolved_company_id: a.companyId,
    });
    expect(await t.superuser('appointments').where({ calcom_booking_uid: uid })).toEqual([
      expect.objectContaining({ company_id: a.companyId }),
    ]);
    await t
      .superuser('team_event_type_mappings')
      .where({ company_id: b.companyId, calcom_event_type_id: a.eventTypeId })
      .delete();
  });

  test('one company cannot deduplicate away another company’s delivery', async () => {
    const body = JSON.stringify(booking(a, unique('dup'), 'x@example.test'));
    const bEndpoint = await insertCredential(t.superuser, b.companyId, 'calcom', B_SECRET);
    const first = await postCalcom(app.url, body, { endpoint: bEndpoint, secret: B_SECRET });
    const second = await postCalcom(app.url, body, { endpoint: a.calcomEndpointId });
    expect([first.status, second.status]).toEqual([202, 202]);
  });

  test('a revoked credential, an unknown endpoint and another provider’s endpoint get 401', async () => {
    const revoked = await insertCredential(t.superuser, a.companyId, 'calcom', B_SECRET, {
      revoked_at: new Date(),
    });
    const before = await eventCount();
    const body = booking(a, unique('bk'), 'r@example.test');
    expect((await postCalcom(app.url, body, { endpoint: revoked, secret: B_SECRET })).status).toBe(
      401,
    );
    expect(await rejections('revoked')).toBe(1);
    expect(
      (
        await postCalcom(app.url, body, {
          endpoint: '00000000-0000-4000-8000-000000000000',
          secret: B_SECRET,
        })
      ).status,
    ).toBe(401);
    expect((await postCalcom(app.url, body, { endpoint: 'not-a-uuid' })).status).toBe(401);
    // A Cal.com credential's id on the Retell route: not a Retell credential.
    const onRetell = await postRetell(app.url, retellEvent('call_started', { call_id: 'x' }), {
      key: CALCOM_SECRET,
      path: `/api/webhooks/retell/${a.calcomEndpointId}`,
    });
    expect(onRetell.status).toBe(401);
    expect(await rejections('unknown_credential')).toBe(3);
    expect(await eventCount()).toBe(before);
  });

  test('a sealed secret copied onto another credential does not open there', async () => {
    const oldSecret = 'old-calcom-secret-0123456789abcdef';
    const newSecret = 'new-calcom-secret-0123456789abcdef';
    const id = await insertCredential(t.superuser, a.companyId, 'calcom', newSecret);
    // Seal the old secret as the previous one, valid for another hour.
    const donor = await insertCredential(t.superuser, a.companyId, 'calcom', oldSecret);
    const sealedOld = await t.superuser('provider_credentials').where({ id: donor }).first();
    await t
      .superuser('provider_credentials')
      .where({ id })
      .update({
        previous_secret_key_id: sealedOld.secret_key_id,
        previous_secret_ciphertext: sealedOld.secret_ciphertext,
        previous_valid_until: new Date(Date.now() + 3600_000),
      });
    const body = () => booking(a, unique('rot'), 'rot@example.test');
    expect((await postCalcom(app.url, body(), { endpoint: id, secret: newSecret })).status).toBe(
      202,
    );
    // The copied blob does not open on this row (its associated data names the donor row).
    expect((await postCalcom(app.url, body(), { endpoint: id, secret: oldSecret })).status).toBe(
      401,
    );
  });
});

describe('Retell', () => {
  test("a company's own Retell account: applied in its company; another company's agent is refused and counted", async () => {
    const endpoint = await insertCredential(t.superuser, a.companyId, 'retell', A_RETELL_KEY);
    const path = `/api/webhooks/retell/${endpoint}`;
    const own = unique('call');
    const res = await postRetell(
      app.url,
      retellEvent('call_started', { call_id: own, agent_id: a.agentId, to_number: a.number }),
      { key: A_RETELL_KEY, path },
    );
    expect(res.status).toBe(202);
    await app.worker.drain();
    expect(await t.superuser('calls').where({ retell_call_id: own })).toEqual([
      expect.objectContaining({ company_id: a.companyId }),
    ]);

    const before = await crossTenant('webhook_retell');
    const foreign = unique('call');
    const attack = await postRetell(
      app.url,
      retellEvent('call_started', { call_id: foreign, agent_id: b.agentId, to_number: b.number }),
      { key: A_RETELL_KEY, path },
    );
    expect(attack.status).toBe(202);
    const { id } = (await attack.json()) as { id: string };
    await app.worker.drain();
    expect(await eventRow(id)).toMatchObject({ status: 'unroutable', resolved_company_id: null });
    expect(await t.superuser('calls').where({ retell_call_id: foreign })).toHaveLength(0);
    expect(await crossTenant('webhook_retell')).toBe(before + 1);

    // The platform key does not verify on a company endpoint, nor the company key on the platform one.
    expect(
      (await postRetell(app.url, retellEvent('call_started', { call_id: unique('c') }), { path }))
        .status,
    ).toBe(401);
    expect(
      (
        await postRetell(app.url, retellEvent('call_started', { call_id: unique('c') }), {
          key: A_RETELL_KEY,
        })
      ).status,
    ).toBe(401);
  });

  test('the platform-wide key still routes by agent and number', async () => {
    const id = unique('call');
    const res = await postRetell(
      app.url,
      retellEvent('call_started', { call_id: id, agent_id: b.agentId }),
    );
    expect(res.status).toBe(202);
    await app.worker.drain();
    expect(await t.superuser('calls').where({ retell_call_id: id })).toEqual([
      expect.objectContaining({ company_id: b.companyId }),
    ]);
  });

  test('inactive agents and numbers are not routed', async () => {
    const co = await seedCompany(t.superuser);
    await t.superuser('retell_agents').where({ id: co.retellAgentRowId }).update({ active: false });
    await t.superuser('phone_numbers').where({ id: co.phoneNumberId }).update({ active: false });
    const id = unique('call');
    const res = await postRetell(
      app.url,
      retellEvent('call_started', { call_id: id, agent_id: co.agentId, to_number: co.number }),
    );
    const { id: eventId } = (await res.json()) as { id: string };
    await app.worker.drain();
    expect(await eventRow(eventId)).toMatchObject({ status: 'unroutable' });
    expect(await t.superuser('calls').where({ retell_call_id: id })).toHaveLength(0);

    // The number active again (agent still inactive): routed by the number only.
    await t.superuser('phone_numbers').where({ id: co.phoneNumberId }).update({ active: true });
    const id2 = unique('call');
    await postRetell(
      app.url,
      retellEvent('call_started', { call_id: id2, agent_id: co.agentId, to_number: co.number }),
    );
    await app.worker.drain();
    expect(await t.superuser('calls').where({ retell_call_id: id2 }).first()).toMatchObject({
      company_id: co.companyId,
      retell_agent_id: null,
      phone_number_id: co.phoneNumberId,
    });
  });
});

describe('platform-wide ownership of numbers and agents', () => {
  test('a second company claiming a number or an agent id is refused', async () => {
    await expect(
      t.superuser('phone_numbers').insert({ company_id: b.companyId, number_e164: a.number }),
    ).rejects.toMatchObject({ code: '23505', constraint: 'phone_numbers_number_platform_unique' });
    await expect(
      t
        .superuser('retell_agents')
        .insert({ company_id: b.companyId, agent_id: a.agentId, name: 'x' }),
    ).rejects.toMatchObject({
      code: '23505',
      constraint: 'retell_agents_agent_id_platform_unique',
    });
    // Changing a number to one another company holds is refused the same way.
    await expect(
      t.superuser('phone_numbers').where({ id: b.phoneNumberId }).update({ number_e164: a.number }),
    ).rejects.toMatchObject({ code: '23505' });
  });

  test('a released number can be assigned to another company', async () => {
    const co = await seedCompany(t.superuser);
    await t.superuser('calls').where({ phone_number_id: co.phoneNumberId }).delete();
    await t.superuser('phone_numbers').where({ id: co.phoneNumberId }).delete();
    await t.superuser('phone_numbers').insert({ company_id: b.companyId, number_e164: co.number });
    expect(
      await t.superuser('platform_phone_numbers').where({ number_e164: co.number }).first(),
    ).toMatchObject({ owner_company_id: b.companyId });
  });

  test('the runtime role cannot read or write the registries', async () => {
    await expect(t.db.knex('platform_phone_numbers').select('*')).rejects.toMatchObject({
      code: '42501',
    });
    await expect(
      t.db.knex('platform_retell_agents').insert({
        agent_id: 'x',
        owner_company_id: a.companyId,
        retell_agent_id: a.retellAgentRowId,
      }),
    ).rejects.toMatchObject({ code: '42501' });
  });
});

test('no secret appears in any log line', () => {
  const all = logLines.join('');
  expect(all.length).toBeGreaterThan(0);
  for (const secret of [CALCOM_SECRET, B_SECRET, A_RETELL_KEY]) expect(all).not.toContain(secret);
});

test('a Retell delivery on a company endpoint outside the 5-minute window is refused', async () => {
  const endpoint = await insertCredential(t.superuser, a.companyId, 'retell', A_RETELL_KEY);
  const raw = JSON.stringify(retellEvent('call_started', { call_id: unique('c') }));
  const res = await fetch(`${app.url}/api/webhooks/retell/${endpoint}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-retell-signature': signRetell(raw, A_RETELL_KEY, Date.now() - 6 * 60_000),
    },
    body: raw,
  });
  expect(res.status).toBe(401);
});
