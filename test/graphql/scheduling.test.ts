import { DateTime } from 'luxon';
import { startTestServer, type TestServer } from '../helpers/server';
import { createWorld, globalId, type World } from '../helpers/world';

/** The scheduling services through GraphQL, under the shield rules and the tenant context. */
let s: TestServer;
let w: World;
let admin: string;
let staff: string;
let serviceId: string;
let staffId: string;

const day = (n: number) =>
  DateTime.now().setZone('Europe/Berlin').plus({ days: n }).toISODate() as string;
const at = (n: number, time: string) =>
  DateTime.fromISO(`${day(n)}T${time}`, { zone: 'Europe/Berlin' })
    .toUTC()
    .toISO() as string;

beforeAll(async () => {
  s = await startTestServer();
  w = await createWorld(s);
  admin = await w.login(w.a.users.admin.email);
  staff = await w.login(w.a.users.staff.email);
  serviceId = globalId('Service', w.a.id, w.a.serviceId);
  staffId = globalId('Staff', w.a.id, w.a.staffId);
});
afterAll(async () => s.close());

const BOOK = `mutation($input: BookAppointmentInput!) {
  bookAppointment(input: $input) { appointment { id status startsAt endsAt staff { name } } customer { name phoneE164 } customerCreated }
}`;

test('availableSlots answers local times with offsets for the staff member', async () => {
  const res = await s.gql(
    `query($s: ID!, $st: ID!, $f: String!, $t: String!) {
      availableSlots(serviceId: $s, staffId: $st, from: $f, to: $t) { timeZone durationMinutes slots { startsAt start staff { name } } }
    }`,
    { s: serviceId, st: staffId, f: day(5), t: day(5) },
    { token: staff },
  );
  expect(res.errors).toBeUndefined();
  const slots = res.data?.availableSlots.slots as { startsAt: string; staff: { name: string } }[];
  expect(res.data?.availableSlots.timeZone).toBe('Europe/Berlin');
  expect(slots.length).toBeGreaterThan(10);
  expect(slots[0].startsAt).toMatch(/T09:00:00(\+01:00|\+02:00)$/);
  expect(slots.every((x) => x.staff.name === 'Stylist alpha')).toBe(true);
});

test('book, conflict on the same slot, reschedule, confirm, cancel', async () => {
  const input = {
    serviceId,
    staffId,
    startsAt: at(6, '10:00'),
    customer: { phone: '0171 5550001', name: 'Walk In' },
    source: 'WEB',
  };
  const booked = await s.gql(BOOK, { input }, { token: staff });
  expect(booked.errors).toBeUndefined();
  expect(booked.data?.bookAppointment.customer).toEqual({
    name: 'Walk In',
    phoneE164: '+491715550001',
  });
  expect(booked.data?.bookAppointment.customerCreated).toBe(true);

  const clash = await s.gql(
    BOOK,
    { input: { ...input, customer: { phone: '0171 5550002' } } },
    { token: admin },
  );
  expect(clash.errors?.[0].extensions?.code).toBe('CONFLICT');

  const id = booked.data?.bookAppointment.appointment.id;
  const moved = await s.gql(
    'mutation($id: ID!, $t: DateTime!) { rescheduleAppointment(id: $id, input: { startsAt: $t }) { appointment { id startsAt rescheduleCount rescheduledFrom { id status } } previous { status } } }',
    { id, t: at(6, '14:00') },
    { token: staff },
  );
  expect(moved.errors).toBeUndefined();
  const next = moved.data?.rescheduleAppointment.appointment;
  expect(next.rescheduleCount).toBe(1);
  expect(next.rescheduledFrom).toEqual({ id, status: 'CANCELLED' });

  const confirmed = await s.gql(
    'mutation($id: ID!) { confirmAppointment(id: $id) { status confirmedAt } }',
    { id: next.id },
    { token: staff },
  );
  expect(confirmed.data?.confirmAppointment.status).toBe('CONFIRMED');
  const early = await s.gql(
    'mutation($id: ID!) { completeAppointment(id: $id) { status } }',
    { id: next.id },
    { token: staff },
  );
  expect(early.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');

  const cancelled = await s.gql(
    'mutation($id: ID!) { cancelAppointment(id: $id, input: { reason: "Customer called" }) { appointment { status cancellationReason } late feeCents } }',
    { id: next.id },
    { token: admin },
  );
  expect(cancelled.data?.cancelAppointment).toEqual({
    appointment: { status: 'CANCELLED', cancellationReason: 'Customer called' },
    late: false,
    feeCents: 0,
  });
});

test('bad input names the field under input; foreign ids are NOT_FOUND', async () => {
  const past = await s.gql(
    BOOK,
    {
      input: { serviceId, staffId, startsAt: at(-1, '10:00'), customer: { phone: '0171 5550003' } },
    },
    { token: admin },
  );
  expect(past.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
  expect(past.errors?.[0].extensions?.field).toMatch(/^input\./);
  const foreign = await s.gql(
    BOOK,
    {
      input: {
        serviceId: globalId('Service', w.b.id, w.b.serviceId),
        startsAt: at(6, '11:00'),
        customer: { phone: '0171 5550004' },
      },
    },
    { token: admin },
  );
  expect(foreign.errors?.[0].extensions).toMatchObject({
    code: 'NOT_FOUND',
    field: 'input.serviceId',
  });
});

test('policies: validated per type, admins only; an override needs a manager or admin', async () => {
  const SAVE =
    'mutation($c: JSONObject!) { savePolicy(input: { policyType: "booking", config: $c }) { policyType config } }';
  const bad = await s.gql(SAVE, { c: { minNoticeHours: -3, horizonDays: 30 } }, { token: admin });
  expect(bad.errors?.[0].extensions).toMatchObject({
    code: 'BAD_USER_INPUT',
    field: 'input.config.minNoticeHours',
  });
  const denied = await s.gql(
    SAVE,
    { c: { minNoticeHours: 48, horizonDays: 30 } },
    { token: staff },
  );
  expect(denied.errors?.[0].extensions?.code).toBe('FORBIDDEN');
  const saved = await s.gql(SAVE, { c: { minNoticeHours: 48, horizonDays: 30 } }, { token: admin });
  expect(saved.data?.savePolicy.config).toMatchObject({ minNoticeHours: 48, horizonDays: 30 });

  const soon = {
    serviceId,
    staffId,
    startsAt: at(1, '09:00'),
    customer: { phone: '0171 5550005' },
    source: 'PHONE',
  };
  const tooSoon = await s.gql(BOOK, { input: soon }, { token: staff });
  expect(tooSoon.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
  const staffOverride = await s.gql(
    BOOK,
    { input: { ...soon, override: { reason: 'VIP' } } },
    { token: staff },
  );
  expect(staffOverride.errors?.[0].extensions?.code).toBe('FORBIDDEN');
  const adminOverride = await s.gql(
    BOOK,
    { input: { ...soon, override: { reason: 'VIP' } } },
    { token: admin },
  );
  expect(adminOverride.errors).toBeUndefined();
  const audit = await s.t
    .superuser('activity_logs')
    .where({ company_id: w.a.id, action: 'scheduling.rule_overridden' });
  expect(audit.length).toBeGreaterThanOrEqual(1);
  expect(audit[0].reason).toBe('VIP');
});

test('callback requests: create, assign, contact, complete', async () => {
  const created = await s.gql(
    'mutation { createCallbackRequest(input: { phone: "030 5550101", name: "Caller", reason: "Wants a colour consultation", priority: "high" }) { id status priority phoneE164 dueAt } }',
    {},
    { token: staff },
  );
  expect(created.errors).toBeUndefined();
  const { id } = created.data?.createCallbackRequest as { id: string };
  const assigned = await s.gql(
    'mutation($id: ID!, $s: ID!) { assignCallbackRequest(id: $id, staffId: $s) { status assignedStaff { name } } }',
    { id, s: staffId },
    { token: staff },
  );
  expect(assigned.data?.assignCallbackRequest).toEqual({
    status: 'assigned',
    assignedStaff: { name: 'Stylist alpha' },
  });
  await s.gql(
    'mutation($id: ID!) { markCallbackContacted(id: $id) { status } }',
    { id },
    { token: staff },
  );
  const done = await s.gql(
    'mutation($id: ID!) { completeCallbackRequest(id: $id, resolution: "Booked") { status resolution } }',
    { id },
    { token: staff },
  );
  expect(done.data?.completeCallbackRequest).toEqual({ status: 'done', resolution: 'Booked' });
});

test('the webhook inbox is for admins and super admins only', async () => {
  const asAdmin = await s.gql(
    '{ webhookEvents(first: 5) { nodes { id } pageInfo { hasNextPage } } webhookStats { scope } }',
    {},
    { token: admin },
  );
  expect(asAdmin.errors).toBeUndefined();
  expect(asAdmin.data?.webhookStats.scope).toBe('company');
  const asStaff = await s.gql('{ webhookEvents(first: 5) { nodes { id } } }', {}, { token: staff });
  expect(asStaff.errors?.[0].extensions?.code).toBe('FORBIDDEN');
  const root = await w.login(w.superAdmin.email);
  const asRoot = await s.gql('{ webhookStats { scope } }', {}, { token: root });
  expect(asRoot.data?.webhookStats.scope).toBe('platform');
});
