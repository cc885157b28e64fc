import { hashPassword } from '../../src/auth/password';
import type { TestServer } from '../helpers/server';
import { PASSWORD } from '../helpers/world';
import {
  callFor,
  callFunction,
  inbound,
  localStart,
  nextWeekday,
  seedSalon,
  startVoiceServer,
  type Salon,
} from './helpers';

/**
 * A whole call as Retell makes it, signed with the real scheme over real HTTP: inbound, then the
 * agent lists services, checks availability, books, finds, reschedules, cancels and asks for a
 * callback. The database is checked after each step, in German and in English.
 */
let s: TestServer;
beforeAll(async () => {
  s = await startVoiceServer();
});
afterAll(async () => {
  await s.close();
});

const cases: Array<{
  lang: 'de' | 'en';
  known: boolean;
  expect: {
    hours: RegExp;
    service: RegExp;
    booked: RegExp;
    spokenTuesday: RegExp;
    cancelled: RegExp;
    callback: RegExp;
  };
}> = [
  {
    lang: 'de',
    known: true,
    expect: {
      hours: /^Montag bis Samstag 09:00 bis 18:00 Uhr, sonst geschlossen$/,
      service: /Haircut \(30 Minuten, 25 €\)/,
      booked: /^Ihr Termin für Haircut ist gebucht: Dienstag, \d{1,2}\. \p{L}+, um 14:00 Uhr bei /u,
      spokenTuesday: /Dienstag, \d{1,2}\. \p{L}+, um \d\d:\d\d Uhr/u,
      cancelled: /ist abgesagt\.$/,
      callback: /Rückrufwunsch notiert/,
    },
  },
  {
    lang: 'en',
    known: false,
    expect: {
      hours: /^Monday to Saturday 9 AM to 6 PM, closed otherwise$/,
      service: /Haircut \(30 minutes, €25\)/,
      booked: /^Your Haircut is booked for Tuesday, \p{L}+ \d{1,2}, at 2:00 PM with /u,
      spokenTuesday: /Tuesday, \p{L}+ \d{1,2}, at \d{1,2}:\d\d (AM|PM)/u,
      cancelled: /is cancelled\.$/,
      callback: /noted your callback request/,
    },
  },
];

describe.each(cases)('a call in $lang', ({ lang, known, expect: want }) => {
  let salon: Salon;
  beforeAll(async () => {
    salon = await seedSalon(s.t.superuser, { language: lang });
  });

  test('inbound, list, check, book, find, reschedule, cancel, callback', async () => {
    const su = s.t.superuser;
    const caller = known ? salon.customerPhone : '+4915799887766';
    const call = callFor(salon, caller);

    // Inbound: the company's data for the prompt.
    const inb = await inbound(s.url, {
      agent_id: salon.agentId,
      from_number: caller,
      to_number: salon.number,
    });
    expect(inb.status).toBe(200);
    const vars = inb.body.call_inbound.dynamic_variables;
    expect(vars.company_name).toBe(salon.name);
    expect(vars.language).toBe(lang);
    expect(vars.time_zone).toBe('Europe/Berlin');
    expect(vars.opening_hours).toMatch(want.hours);
    expect(vars.services).toMatch(want.service);
    expect(vars.customer_known).toBe(String(known));
    for (const v of Object.values(vars)) expect(typeof v).toBe('string');

    // list_services
    const list = await callFunction(s.url, 'list_services', call);
    expect(list.status).toBe(200);
    expect(list.body.ok).toBe(true);
    expect(list.body.services.map((x: any) => x.name)).toEqual(['Colour', 'Haircut']);
    expect(list.body.message).toMatch(want.service);
    const [{ id: callRowId }] = await su('calls').where({ retell_call_id: call.call_id });
    expect(callRowId).toBeDefined();

    // check_availability: Tuesday afternoon
    const tuesday = nextWeekday(2);
    const check = await callFunction(s.url, 'check_availability', call, {
      service: 'haircut',
      date: tuesday.toISODate(),
      time_of_day: lang === 'de' ? 'nachmittags' : 'afternoon',
    });
    expect(check.status).toBe(200);
    expect(check.body.ok).toBe(true);
    expect(check.body.slots.length).toBeGreaterThan(0);
    expect(check.body.slots.length).toBeLessThanOrEqual(3);
    for (const slot of check.body.slots) {
      const hour = Number(slot.startsAt.slice(11, 13));
      expect(hour).toBeGreaterThanOrEqual(12);
      expect(hour).toBeLessThan(17);
      expect(slot.spoken).toMatch(want.spokenTuesday);
    }
    expect(check.body.message).toMatch(want.spokenTuesday);

    // book_appointment at 14:00 local
    const book = await callFunction(s.url, 'book_appointment', call, {
      service: 'Haircut',
      start: localStart(tuesday, '14:00'),
      name: known ? 'Maria Muster' : 'John Smith',
    });
    expect(book.status).toBe(200);
    expect(book.body.ok).toBe(true);
    expect(book.body.message).toMatch(want.booked);
    const booked = await su('appointments').where({ id: book.body.appointmentId }).first();
    expect(booked.call_id).toBe(callRowId);
    expect(booked.source).toBe('phone');
    expect(booked.status).toBe('scheduled');
    expect(booked.starts_at.toISOString()).toBe(
      new Date(
        `${tuesday.toISODate()}T14:00:00${tuesday.set({ hour: 14 }).toFormat('ZZ')}`,
      ).toISOString(),
    );
    const customer = await su('customers').where({ id: booked.customer_id }).first();
    expect(customer.phone_e164).toBe(caller);
    if (known) expect(customer.id).toBe(salon.customerId);
    else expect(customer.name).toBe('John Smith');
    expect((await su('calls').where({ id: callRowId }).first()).outcome).toBe('booked');

    // find_appointments
    const find = await callFunction(s.url, 'find_appointments', call);
    expect(find.body.ok).toBe(true);
    expect(find.body.appointments.map((a: any) => a.appointmentId)).toEqual([booked.id]);
    expect(find.body.message).toMatch(want.spokenTuesday);

    // reschedule_appointment to 15:30
    const move = await callFunction(s.url, 'reschedule_appointment', call, {
      appointment_id: booked.id,
      new_start: localStart(tuesday, '15:30'),
    });
    expect(move.body.ok).toBe(true);
    expect(move.body.previousAppointmentId).toBe(booked.id);
    const old = await su('appointments').where({ id: booked.id }).first();
    expect(old.status).toBe('cancelled');
    const moved = await su('appointments').where({ id: move.body.appointmentId }).first();
    expect(moved.status).toBe('scheduled');
    expect(moved.rescheduled_from_id).toBe(booked.id);
    expect(move.body.startsAt.slice(11, 16)).toBe('15:30');

    // cancel_appointment: the only upcoming one, no id needed
    const cancel = await callFunction(s.url, 'cancel_appointment', call, { reason: 'ill' });
    expect(cancel.body.ok).toBe(true);
    expect(cancel.body.appointmentId).toBe(moved.id);
    expect(cancel.body.message).toMatch(want.cancelled);
    const gone = await su('appointments').where({ id: moved.id }).first();
    expect(gone.status).toBe('cancelled');
    expect(gone.cancelled_by).toBe('voice_agent');

    // request_callback
    const cb = await callFunction(s.url, 'request_callback', call, {
      reason: 'Question about colours',
      preferred_time: lang === 'de' ? 'morgen Vormittag' : 'tomorrow morning',
    });
    expect(cb.body.ok).toBe(true);
    expect(cb.body.message).toMatch(want.callback);
    const request = await su('callback_requests').where({ id: cb.body.callbackRequestId }).first();
    expect(request.call_id).toBe(callRowId);
    expect(request.phone_e164).toBe(caller);
    expect(request.preferred_times).toEqual([
      lang === 'de' ? 'morgen Vormittag' : 'tomorrow morning',
    ]);

    // Every function call is in the call's log.
    const logged = await su('voice_function_calls')
      .where({ call_id: callRowId })
      .orderBy('created_at');
    expect(logged.map((r: any) => r.function_name)).toEqual([
      'list_services',
      'check_availability',
      'book_appointment',
      'find_appointments',
      'reschedule_appointment',
      'cancel_appointment',
      'request_callback',
    ]);
    expect(logged.every((r: any) => r.outcome === 'ok' && r.latency_ms >= 0)).toBe(true);
  });
});

test("the call's function-call log is visible in GraphQL to the company, not to another", async () => {
  const su = s.t.superuser;
  const salon = await seedSalon(su, { language: 'en' });
  const other = await seedSalon(su, { language: 'en' });
  const call = callFor(salon, salon.customerPhone);
  await callFunction(s.url, 'list_services', call);
  await callFunction(s.url, 'check_availability', call, { service: 'Nope' });
  const hash = await hashPassword(PASSWORD);
  const login = async (companyId: string, email: string) => {
    await su('users').insert({
      company_id: companyId,
      email,
      name: 'Admin',
      password_hash: hash,
      roles: '{admin}',
    });
    const res = await s.gql<{ login: { accessToken: string } }>(
      'mutation($e: String!, $p: String!) { login(input: { email: $e, password: $p }) { accessToken } }',
      { e: email, p: PASSWORD },
    );
    return res.data!.login.accessToken;
  };
  const query = `{ calls(first: 10) { edges { node { retellCallId outcome
    functionCalls { functionName outcome errorCode latencyMs replayed createdAt } } } } }`;
  const mine = await s.gql(
    query,
    {},
    { token: await login(salon.companyId, `admin-${salon.companyId}@x.test`) },
  );
  expect(mine.errors).toBeUndefined();
  const node = mine.data!.calls.edges.find((e: any) => e.node.retellCallId === call.call_id).node;
  expect(node.functionCalls.map((f: any) => [f.functionName, f.outcome, f.errorCode])).toEqual([
    ['list_services', 'ok', null],
    ['check_availability', 'invalid', 'field:service'],
  ]);
  const theirs = await s.gql(
    query,
    {},
    { token: await login(other.companyId, `admin-${other.companyId}@x.test`) },
  );
  expect(theirs.data!.calls.edges).toEqual([]);
});

test('admins rotate the voice secret and set the language in GraphQL; staff cannot', async () => {
  const su = s.t.superuser;
  const salon = await seedSalon(su, { language: 'en' });
  const hash = await hashPassword(PASSWORD);
  const token = async (role: string) => {
    const email = `${role}-${salon.companyId}@x.test`;
    await su('users').insert({
      company_id: salon.companyId,
      email,
      name: role,
      password_hash: hash,
      roles: `{${role}}`,
    });
    const res = await s.gql<{ login: { accessToken: string } }>(
      'mutation($e: String!, $p: String!) { login(input: { email: $e, password: $p }) { accessToken } }',
      { e: email, p: PASSWORD },
    );
    return res.data!.login.accessToken;
  };
  const admin = await token('admin');
  const staff = await token('staff');
  const rotate = 'mutation { rotateVoiceAgentSecret { secret previousValidUntil } }';
  const denied = await s.gql(rotate, {}, { token: staff });
  expect(denied.errors?.[0].extensions?.code).toBe('FORBIDDEN');
  const rotated = await s.gql<{ rotateVoiceAgentSecret: { secret: string } }>(
    rotate,
    {},
    { token: admin },
  );
  expect(rotated.errors).toBeUndefined();
  const secret = rotated.data!.rotateVoiceAgentSecret.secret;
  expect(secret).toMatch(/^vas_/);
  const call = callFor(salon, salon.customerPhone);
  expect((await callFunction(s.url, 'list_services', call)).status).toBe(401);
  const ok = await callFunction(
    s.url,
    'list_services',
    call,
    {},
    {
      headers: { 'x-voice-agent-secret': secret },
    },
  );
  expect(ok.status).toBe(200);
  const lang = await s.gql(
    'mutation { setVoiceAgentLanguage(language: "de") }',
    {},
    { token: admin },
  );
  expect(lang.data).toEqual({ setVoiceAgentLanguage: 'de' });
  const german = await callFunction(
    s.url,
    'list_services',
    call,
    {},
    {
      headers: { 'x-voice-agent-secret': secret },
    },
  );
  expect(german.body.message).toMatch(/^Wir bieten/);
  const bad = await s.gql(
    'mutation { setVoiceAgentLanguage(language: "fr") }',
    {},
    { token: admin },
  );
  expect(bad.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'language' });
  const cleared = await s.gql('mutation { clearVoiceAgentSecret }', {}, { token: admin });
  expect(cleared.data).toEqual({ clearVoiceAgentSecret: true });
  expect((await callFunction(s.url, 'list_services', call)).status).toBe(200);
});
