import { startServer, type AppServer } from '../../src/app';
import { signRetell } from '../../src/webhooks/signatures';
import { createTestDatabase, type TestDatabase } from '../helpers/pg';
import {
  RETELL_KEY,
  calcomEvent,
  postCalcom,
  postRetell,
  retellEvent,
  seedCompany,
  unique,
  waitFor,
  webhookConfig,
  type SeededCompany,
} from './helpers';
import { testDeps } from '../helpers/deps';

/**
 * Poison deliveries: validly signed bodies that Postgres `jsonb` cannot hold (an unpaired
 * surrogate escape, nesting thousands deep), bytes that are not text, and values the database
 * refuses. Each is kept as raw text, marked `rejected` with the reason and answered 400, on the
 * first delivery and on every retry; never 503, which stays for a database that is really down.
 */
let t: TestDatabase;
let server: AppServer;
let co: SeededCompany;

beforeAll(async () => {
  t = await createTestDatabase();
  server = await startServer(testDeps(t.db, { config: webhookConfig({ databaseUrl: t.url }) }));
  co = await seedCompany(t.superuser);
});
afterAll(async () => {
  await server?.close();
  await t.drop();
});

interface Row {
  id: string;
  status: string;
  event_type: string;
  payload_raw: string;
  raw_encoding: string;
  payload: unknown;
  last_error: string | null;
}

const rowsByRaw = (raw: string) =>
  t.superuser('webhook_events').where({ payload_raw: raw }).select<Row[]>('*');

/** Posts a delivery three times (the provider's retries) and returns the answers. */
async function deliver(provider: 'retell' | 'calcom', raw: string) {
  const answers = [];
  for (let i = 0; i < 3; i++) {
    const res =
      provider === 'retell'
        ? await postRetell(server.url, raw)
        : await postCalcom(server.url, raw, { endpoint: co.calcomEndpointId });
    answers.push({ status: res.status, body: (await res.json()) as Record<string, unknown> });
  }
  return answers;
}

async function expectRejected(provider: 'retell' | 'calcom', raw: string, reason: RegExp) {
  const answers = await deliver(provider, raw);
  for (const a of answers) {
    expect(a.status).toBe(400);
    expect(a.body).toMatchObject({ status: 'rejected', error: { code: 'BAD_REQUEST' } });
  }
  // Every retry finds the one stored row.
  expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
  const rows = await rowsByRaw(raw);
  expect(rows).toHaveLength(1);
  expect(rows[0]).toMatchObject({ status: 'rejected', payload: null, raw_encoding: 'utf8' });
  expect(rows[0].last_error).toMatch(reason);
  expect(rows[0].id).toBe(answers[0].body.id);
  return rows[0];
}

const surrogateRetell = (callId: string) =>
  `{"event":"call_ended","call":{"call_id":"${callId}","transcript":"a\\ud800b"}}`;

test('Retell: an unpaired surrogate escape is kept as rejected, 400 on every retry', async () => {
  const raw = surrogateRetell(unique('c'));
  const row = await expectRejected('retell', raw, /unpaired surrogate/);
  expect(row.event_type).toBe('call_ended');
  expect(row.payload_raw).toBe(raw);
});

test('Cal.com: an unpaired surrogate escape (in a key too) is kept as rejected', async () => {
  const body = JSON.stringify(
    calcomEvent('BOOKING_CREATED', { uid: unique('bk'), eventTypeId: co.eventTypeId }),
  );
  const inValue = body.replace('"Please be quick"', '"Please \\udc00 be quick"');
  await expectRejected('calcom', inValue, /unpaired surrogate/);
  const inKey = body.replace('"customInputs"', '"custom\\ud83dInputs"');
  await expectRejected('calcom', inKey, /key that cannot be stored/);
});

test('an array nested 5,000 deep is kept as rejected (Retell and Cal.com)', async () => {
  const deep = '['.repeat(5000) + ']'.repeat(5000);
  const retell = `{"event":"call_started","call":{"call_id":"${unique('c')}","x":${deep}}}`;
  await expectRejected('retell', retell, /deeper than 64 levels/);
  const calcom = `{"triggerEvent":"BOOKING_CREATED","createdAt":"${new Date().toISOString()}","payload":{"uid":"${unique('bk')}","x":${deep}}}`;
  await expectRejected('calcom', calcom, /deeper than 64 levels/);
  // A million brackets cannot exhaust the parser either.
  const huge = '['.repeat(500_000) + ']'.repeat(500_000);
  expect((await deliver('retell', huge)).map((a) => a.status)).toEqual([400, 400, 400]);
});

test('bytes that are not storable text (invalid UTF-8, NUL) are kept as base64', async () => {
  for (const bytes of [
    Buffer.from([0x7b, 0xff, 0xfe, 0x7d]),
    Buffer.from('{"event":"call_started"\u0000}', 'utf8'),
  ]) {
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${server.url}/api/webhooks/retell`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-retell-signature': signRetell(bytes, RETELL_KEY, Date.now()),
        },
        body: bytes,
      });
      expect(res.status).toBe(400);
    }
    const rows = await t
      .superuser('webhook_events')
      .where({ payload_raw: bytes.toString('base64') })
      .select<Row[]>('*');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: 'rejected', raw_encoding: 'base64', payload: null });
  }
});

test('a value the database refuses is kept as rejected, not answered 503', async () => {
  // Stand-in for any value jsonb or a constraint refuses that the edge checks do not know about.
  await t.superuser.raw(`
    create function refuse_poison() returns trigger language plpgsql as $$
    begin
      if new.payload is not null and new.payload::text like '%db-poison%' then
        raise exception 'refused' using errcode = '22P05';
      end if;
      return new;
    end $$`);
  await t.superuser.raw(
    'create trigger refuse_poison before insert on webhook_events for each row execute function refuse_poison()',
  );
  try {
    const raw = JSON.stringify(
      retellEvent('call_started', { call_id: unique('c'), x: 'db-poison' }),
    );
    const row = await expectRejected('retell', raw, /refused by the database \(SQLSTATE 22P05\)/);
    expect(row.event_type).toBe('call_started');
  } finally {
    await t.superuser.raw('drop trigger refuse_poison on webhook_events');
    await t.superuser.raw('drop function refuse_poison()');
  }
});

test('rejected events are never claimed by the worker', async () => {
  const raw = surrogateRetell(unique('c'));
  await deliver('retell', raw);
  await new Promise((r) => setTimeout(r, 300));
  const [row] = await rowsByRaw(raw);
  expect(row.status).toBe('rejected');
  expect(
    Number((await t.superuser('webhook_events').where({ id: row.id }).first('attempts'))!.attempts),
  ).toBe(0);
});

test('a NUL escape in a value is still accepted (dropped from the JSON copy, kept in the raw text)', async () => {
  const raw = JSON.stringify(
    retellEvent('call_started', { call_id: unique('c'), agent_id: co.agentId, note: 'a\u0000b' }),
  );
  const res = await postRetell(server.url, raw);
  expect(res.status).toBe(202);
});

describe('Cal.com booking times outside the window', () => {
  const cases: [string, string, string, RegExp][] = [
    [
      '0000-01-01 to 9999-12-31',
      '0000-01-01T00:00:00.000Z',
      '9999-12-31T23:59:59.000Z',
      /more than a year in the past/,
    ],
    [
      'ten years ahead',
      '2036-12-01T09:00:00.000Z',
      '2036-12-01T09:30:00.000Z',
      /more than five years ahead/,
    ],
    [
      'two days long',
      '2027-03-02T09:00:00.000Z',
      '2027-03-04T09:00:00.000Z',
      /lasts longer than 24 hours/,
    ],
  ];
  test.each(cases)(
    '%s: dead at once with the reason, no appointment',
    async (_n, start, end, reason) => {
      const uid = unique('bk');
      const res = await postCalcom(
        server.url,
        calcomEvent('BOOKING_CREATED', {
          uid,
          eventTypeId: co.eventTypeId,
          startTime: start,
          endTime: end,
          organizer: { id: co.calcomUserId, email: 'x@example.test' },
        }),
        { endpoint: co.calcomEndpointId },
      );
      expect(res.status).toBe(202);
      const { id } = (await res.json()) as { id: string };
      const row = await waitFor(async () => {
        const r = await t
          .superuser('webhook_events')
          .where({ id })
          .first<Row & { attempts: number }>();
        return r && r.status === 'dead' ? r : undefined;
      });
      expect(row.attempts).toBe(1);
      expect(row.last_error).toMatch(reason);
      expect(await t.superuser('appointments').where({ calcom_booking_uid: uid })).toEqual([]);
    },
  );
});

test('a Cal.com attendee name with control characters becomes one clean line', async () => {
  const uid = unique('bk');
  const email = `${unique('ctl')}@example.test`;
  const res = await postCalcom(
    server.url,
    calcomEvent('BOOKING_CREATED', {
      uid,
      eventTypeId: co.eventTypeId,
      startTime: '2027-04-01T09:00:00.000Z',
      endTime: '2027-04-01T09:30:00.000Z',
      organizer: { id: co.calcomUserId, email: 'x@example.test' },
      attendees: [{ email, name: 'Jane\u0007\n\u001b[31mDoe\u2028' }],
    }),
    { endpoint: co.calcomEndpointId },
  );
  expect(res.status).toBe(202);
  const customer = await waitFor(() =>
    t.superuser('customers').where({ company_id: co.companyId, email }).first<{ name: string }>(),
  );
  expect(customer.name).toBe('Jane [31mDoe');
});
