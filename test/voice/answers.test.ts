import { DateTime } from 'luxon';
import { createTestDatabase, type TestDatabase } from '../helpers/pg';
import {
  callFor,
  callFunction,
  inbound,
  localStart,
  nextWeekday,
  seedSalon,
  signedPost,
  startVoiceApp,
  type Salon,
} from './helpers';

/**
 * Every bad or impossible argument gets HTTP 200 with a sentence the agent can say (and the
 * nearest alternatives where there are any), never a 500 or a stack; and the inbound answer for
 * a known and an unknown caller.
 */
let t: TestDatabase;
let en: Salon;
let de: Salon;
let app: Awaited<ReturnType<typeof startVoiceApp>>;

beforeAll(async () => {
  t = await createTestDatabase();
  en = await seedSalon(t.superuser, { language: 'en' });
  de = await seedSalon(t.superuser, { language: 'de' });
  app = await startVoiceApp(t.db);
});
afterAll(async () => {
  await app.close();
  await t.drop();
});

function speakable(body: any) {
  expect(typeof body.message).toBe('string');
  expect(body.message.length).toBeGreaterThan(5);
  expect(body.message.length).toBeLessThan(400);
  expect(JSON.stringify(body)).not.toMatch(/stack|Error:|select |insert |\bat \//i);
}

describe('bad arguments', () => {
  test('unknown service: explanation and up to three services we offer', async () => {
    const r = await callFunction(app.url, 'check_availability', callFor(en, en.customerPhone), {
      service: 'Thai massage',
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ ok: false, outcome: 'invalid', field: 'service' });
    expect(r.body.message).toMatch(/we don't offer "Thai massage"/);
    expect(r.body.alternatives.length).toBeGreaterThan(0);
    expect(r.body.alternatives.length).toBeLessThanOrEqual(3);
    speakable(r.body);
    const german = await callFunction(app.url, 'book_appointment', callFor(de, de.customerPhone), {
      service: 'Massage',
      start: '2030-01-07T10:00',
    });
    expect(german.body.message).toMatch(/bieten wir leider nicht an/);
  });

  test('no service named: the agent is told to ask', async () => {
    const r = await callFunction(app.url, 'book_appointment', callFor(en, en.customerPhone), {
      start: '2030-01-07T10:00',
    });
    expect(r.body).toMatchObject({ ok: false, field: 'service' });
    expect(r.body.message).toMatch(/Which service/);
  });

  test('a time in the past: said so, with the nearest future times', async () => {
    const yesterday = DateTime.now().setZone('Europe/Berlin').minus({ days: 1 });
    const r = await callFunction(app.url, 'book_appointment', callFor(en, en.customerPhone), {
      service: 'Haircut',
      start: localStart(yesterday, '10:00'),
    });
    expect(r.body).toMatchObject({ ok: false, outcome: 'invalid' });
    expect(r.body.message).toMatch(/^That time is in the past\. I could offer /);
    expect(r.body.alternatives.length).toBeGreaterThan(0);
    expect(r.body.alternatives.length).toBeLessThanOrEqual(3);
    for (const a of r.body.alternatives) expect(Date.parse(a.startsAt)).toBeGreaterThan(Date.now());
    expect(await t.superuser('appointments').where({ company_id: en.companyId })).toHaveLength(0);
    const check = await callFunction(app.url, 'check_availability', callFor(en, en.customerPhone), {
      service: 'Haircut',
      date: yesterday.toISODate(),
    });
    expect(check.body.message).toMatch(/^That day is in the past\./);
  });

  test('a closed day: nothing free, the next open day offered', async () => {
    const sunday = nextWeekday(7);
    const check = await callFunction(app.url, 'check_availability', callFor(de, de.customerPhone), {
      service: 'Haircut',
      date: sunday.toISODate(),
    });
    expect(check.body.ok).toBe(false);
    expect(check.body.message).toMatch(
      /^Am Sonntag, \d+\. \p{L}+ ist für Haircut leider nichts frei\. Frei wäre Montag/u,
    );
    expect(check.body.alternatives.length).toBe(3);
    const book = await callFunction(app.url, 'book_appointment', callFor(de, de.customerPhone), {
      service: 'Haircut',
      start: localStart(sunday, '10:00'),
    });
    expect(book.body.ok).toBe(false);
    expect(book.body.message).toMatch(/nicht geöffnet/);
    expect(book.body.alternatives.length).toBeGreaterThan(0);
    expect(await t.superuser('appointments').where({ company_id: de.companyId })).toHaveLength(0);
  });

  test('an invalid or withheld caller number', async () => {
    for (const from of ['anonymous', '12', '']) {
      const call = callFor(en, from);
      const book = await callFunction(app.url, 'book_appointment', call, {
        service: 'Haircut',
        start: localStart(nextWeekday(2), '10:00'),
      });
      expect(book.body).toMatchObject({ ok: false, field: 'from_number' });
      expect(book.body.message).toMatch(/can't recognise your phone number/);
      const find = await callFunction(app.url, 'find_appointments', call);
      expect(find.body.field).toBe('from_number');
      const cb = await callFunction(app.url, 'request_callback', call, { reason: 'x' });
      expect(cb.body.field).toBe('from_number');
    }
  });

  test('times, dates, staff and argument types the agent got wrong', async () => {
    const call = callFor(en, en.customerPhone);
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      ['book_appointment', { service: 'Haircut', start: 'soonish' }, /didn't catch that time/],
      ['book_appointment', { service: 'Haircut' }, /didn't catch that time/],
      ['book_appointment', { service: 123, start: {} }, /don't offer "123"/],
      ['check_availability', { service: 'Haircut', date: '31.02.' }, /didn't catch that date/],
      ['check_availability', { service: 'Haircut', time_of_day: 'teatime' }, /time of day/],
      ['check_availability', { service: 'Haircut', staff: 'Zoe' }, /Zoe doesn't offer/],
      ['reschedule_appointment', { new_start: '2030-01-01T10:00' }, /can't find any upcoming/],
      ['cancel_appointment', { appointment_id: 'not-an-id' }, /can't find that appointment/],
      ['request_callback', {}, /What should the callback be about/],
    ];
    for (const [name, args, message] of cases) {
      const r = await callFunction(app.url, name, call, args);
      expect(r.status).toBe(200);
      expect(r.body.ok).toBe(false);
      expect(r.body.message).toMatch(message);
      speakable(r.body);
    }
  });

  test("another customer's appointment cannot be touched", async () => {
    const day = nextWeekday(3);
    const mine = await callFunction(app.url, 'book_appointment', callFor(en, en.customerPhone), {
      service: 'Haircut',
      start: localStart(day, '09:00'),
    });
    expect(mine.body.ok).toBe(true);
    const stranger = callFor(en, '+4915799990000');
    for (const name of ['cancel_appointment', 'reschedule_appointment']) {
      const r = await callFunction(app.url, name, stranger, {
        appointment_id: mine.body.appointmentId,
        new_start: localStart(day, '11:00'),
      });
      expect(r.body).toMatchObject({ ok: false, field: 'appointment_id' });
    }
    const row = await t.superuser('appointments').where({ id: mine.body.appointmentId }).first();
    expect(row.status).toBe('scheduled');
  });

  test('cancellation policy: a late cancellation states the fee; without a fee it is refused', async () => {
    const salon = await seedSalon(t.superuser, { language: 'en' });
    await t.superuser('policy_configurations').insert({
      company_id: salon.companyId,
      policy_type: 'cancellation',
      config: { minNoticeHours: 24 * 30, feeCents: 1500 },
    });
    const call = callFor(salon, salon.customerPhone);
    const booked = await callFunction(app.url, 'book_appointment', call, {
      service: 'Haircut',
      start: localStart(nextWeekday(2), '10:00'),
    });
    const cancel = await callFunction(app.url, 'cancel_appointment', call, {});
    expect(cancel.body).toMatchObject({ ok: true, late: true, feeCents: 1500 });
    expect(cancel.body.message).toMatch(/late cancellation, there is a fee of €15/);
    await t
      .superuser('policy_configurations')
      .where({ company_id: salon.companyId })
      .update({ config: { minNoticeHours: 24 * 30, feeCents: null } });
    const again = await callFunction(app.url, 'book_appointment', call, {
      service: 'Haircut',
      start: localStart(nextWeekday(2), '11:00'),
    });
    expect(again.body.ok).toBe(true);
    const refused = await callFunction(app.url, 'cancel_appointment', call, {
      appointment_id: again.body.appointmentId,
    });
    expect(refused.body).toMatchObject({ ok: false, outcome: 'refused' });
    expect(refused.body.message).toMatch(/can only be cancelled up to 720 hours before/);
    const row = await t.superuser('appointments').where({ id: again.body.appointmentId }).first();
    expect(row.status).toBe('scheduled');
    void booked;
  });

  test('malformed requests are clear client errors, not 500s', async () => {
    const call = callFor(en, en.customerPhone);
    const unknown = await callFunction(app.url, 'delete_everything', call);
    expect(unknown.status).toBe(404);
    const notJson = await signedPost(`${app.url}/api/retell/functions/list_services`, '{nope');
    expect(notJson.status).toBe(400);
    const noCall = await signedPost(
      `${app.url}/api/retell/functions/list_services`,
      JSON.stringify({ args: {} }),
    );
    expect(noCall.status).toBe(400);
    expect(noCall.body.error.message).toMatch(/call is required/);
    const noId = await callFunction(app.url, 'list_services', { ...call, call_id: '' });
    expect(noId.status).toBe(400);
    // Args at the root are accepted too, and the old route books.
    const root = await signedPost(
      `${app.url}/api/retell/collect-appointment`,
      JSON.stringify({ call, service: 'Haircut', start: localStart(nextWeekday(4), '16:00') }),
    );
    expect(root.status).toBe(200);
    expect(root.body.ok).toBe(true);
    expect(root.body.appointmentId).toBeDefined();
  });
});

describe('inbound answer', () => {
  test('a known caller: first name and next appointment; no agent given: the number’s agent', async () => {
    const call = callFor(de, de.customerPhone);
    const day = nextWeekday(5);
    await callFunction(app.url, 'book_appointment', call, {
      service: 'Colour',
      start: localStart(day, '13:00'),
    });
    const r = await inbound(app.url, { from_number: de.customerPhone, to_number: de.number });
    expect(r.status).toBe(200);
    const { dynamic_variables: vars, metadata, override_agent_id } = r.body.call_inbound;
    expect(override_agent_id).toBe(de.agentId);
    expect(vars.customer_known).toBe('true');
    expect(vars.customer_first_name).toBe('Maria');
    expect(vars.next_appointment).toMatch(/^Colour, \p{L}+, \d+\. \p{L}+, um 13:00 Uhr$/u);
    expect(metadata).toEqual({ company_id: de.companyId, customer_id: de.customerId });
    const today = DateTime.now().setZone('Europe/Berlin');
    expect(vars.today).toBe(today.toISODate());
    expect(vars.weekday).toBe(today.setLocale('de-DE').toFormat('cccc'));
    expect(vars.language).toBe('de');
  });

  test('an unknown caller: company data, nothing about any customer', async () => {
    const r = await inbound(app.url, {
      agent_id: en.agentId,
      from_number: '+4915700001111',
      to_number: en.number,
    });
    const { dynamic_variables: vars, metadata, override_agent_id } = r.body.call_inbound;
    expect(override_agent_id).toBeUndefined();
    expect(vars.company_name).toBe(en.name);
    expect(vars.customer_known).toBe('false');
    expect(vars.customer_first_name).toBe('');
    expect(vars.next_appointment).toBe('');
    expect(metadata).toEqual({ company_id: en.companyId });
  });
});

test('on an outbound call the customer is the number called', async () => {
  const call = callFor(en, en.number, {
    direction: 'outbound',
    from_number: en.number,
    to_number: en.customerPhone,
  });
  const booked = await callFunction(app.url, 'book_appointment', call, {
    service: 'Haircut',
    start: localStart(nextWeekday(2), '17:00'),
  });
  expect(booked.body.ok).toBe(true);
  expect(booked.body.customerId).toBe(en.customerId);
  const row = await t.superuser('calls').where({ retell_call_id: call.call_id }).first();
  expect(row).toMatchObject({ direction: 'outbound', customer_id: en.customerId });
});
