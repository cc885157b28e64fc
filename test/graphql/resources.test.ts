import { startTestServer, type TestServer } from '../helpers/server';
import { createWorld, globalId, type World } from '../helpers/world';

/** Reads and writes of every resource, as the role that may do them, over real HTTP. */
let s: TestServer;
let w: World;
let admin: string;
let manager: string;
let staff: string;

const ok = async (query: string, variables: Record<string, unknown> = {}, token = admin) => {
  const res = await s.gql(query, variables, { token });
  expect(res.errors).toBeUndefined();
  return res.data as Record<string, any>;
};

beforeAll(async () => {
  s = await startTestServer();
  w = await createWorld(s);
  admin = await w.login(w.a.users.admin.email);
  manager = await w.login(w.a.users.manager.email);
  staff = await w.login(w.a.users.staff.email);
});
afterAll(async () => s.close());

test('branches: create, rename, list, archive', async () => {
  const { createBranch } = await ok(
    'mutation { createBranch(input: { name: "North", phone: "030 1234567", timezone: "Europe/Berlin" }) { id name phoneE164 timezone } }',
    {},
    manager,
  );
  expect(createBranch.phoneE164).toBe('+49301234567');
  const { updateBranch } = await ok(
    'mutation($id: ID!) { updateBranch(input: { id: $id, name: "North Side" }) { name } }',
    { id: createBranch.id },
    manager,
  );
  expect(updateBranch.name).toBe('North Side');
  const bad = await s.gql(
    'mutation { createBranch(input: { name: "Z", timezone: "Mars/Base" }) { id } }',
    {},
    { token: admin },
  );
  expect(bad.errors?.[0].extensions).toMatchObject({
    code: 'BAD_USER_INPUT',
    field: 'input.timezone',
  });
  await ok(
    'mutation($id: ID!) { archiveBranch(id: $id) { archivedAt } }',
    { id: createBranch.id },
    manager,
  );
  const list = await ok('{ branches(first: 10) { nodes { name } } }', {}, staff);
  expect(list.branches.nodes.map((b: { name: string }) => b.name)).toEqual(['Main']);
  const all = await ok('{ branches(first: 10, filter: { includeArchived: true }) { totalCount } }');
  expect(all.branches.totalCount).toBe(2);
});

test('staff and working hours', async () => {
  const branchId = globalId('Branch', w.a.id, w.a.branchId);
  const { createStaff } = await ok(
    'mutation($b: ID!) { createStaff(input: { name: "Mia", email: "mia@alpha.test", color: "#3366FF", branchId: $b }) { id color branch { name } } }',
    { b: branchId },
    manager,
  );
  expect(createStaff).toMatchObject({ color: '#3366ff', branch: { name: 'Main' } });
  const { createWorkingHour } = await ok(
    'mutation($s: ID!) { createWorkingHour(input: { staffId: $s, weekday: 1, startsAt: "09:00", endsAt: "12:30" }) { id startsAt endsAt staff { name } } }',
    { s: createStaff.id },
    manager,
  );
  expect(createWorkingHour).toMatchObject({
    startsAt: '09:00',
    endsAt: '12:30',
    staff: { name: 'Mia' },
  });
  const bad = await s.gql(
    'mutation($s: ID!) { createWorkingHour(input: { staffId: $s, weekday: 8, startsAt: "09:00", endsAt: "08:00" }) { id } }',
    { s: createStaff.id },
    { token: manager },
  );
  expect(bad.errors?.[0].extensions).toMatchObject({
    code: 'BAD_USER_INPUT',
    field: 'input.weekday',
  });
  const hours = await ok(
    'query($s: ID!) { workingHours(first: 10, staffId: $s) { totalCount } }',
    { s: createStaff.id },
    manager,
  );
  expect(hours.workingHours.totalCount).toBe(1);
  // A staff user sees only their own schedule (the world gives them a row for each weekday).
  const own = await ok(
    '{ workingHours(first: 10) { totalCount nodes { staff { name } } } }',
    {},
    staff,
  );
  expect(own.workingHours.totalCount).toBe(7);
  expect(
    new Set(own.workingHours.nodes.map((n: { staff: { name: string } }) => n.staff.name)),
  ).toEqual(new Set(['Stylist alpha']));
  expect(
    await ok(
      'mutation($id: ID!) { deleteWorkingHour(id: $id) }',
      { id: createWorkingHour.id },
      manager,
    ),
  ).toEqual({
    deleteWorkingHour: true,
  });
});

test('services, categories and who performs them', async () => {
  const { saveServiceCategory } = await ok(
    'mutation { saveServiceCategory(input: { name: "Colour" }) { id name } }',
    {},
    manager,
  );
  const { saveService } = await ok(
    'mutation($c: ID!, $s: [ID!]) { saveService(input: { name: "Balayage", durationMinutes: 120, bufferMinutes: 15, priceCents: 12000, categoryId: $c, staffIds: $s }) { id name currency category { name } } }',
    { c: saveServiceCategory.id, s: [globalId('Staff', w.a.id, w.a.staffId)] },
    manager,
  );
  expect(saveService).toMatchObject({
    name: 'Balayage',
    currency: 'EUR',
    category: { name: 'Colour' },
  });
  const links = await s.t
    .superuser('staff_services')
    .where({ company_id: w.a.id, staff_id: w.a.staffId });
  expect(links).toHaveLength(2);
  const tooLong = await s.gql(
    'mutation($id: ID!) { saveService(input: { id: $id, durationMinutes: 2000 }) { id } }',
    { id: saveService.id },
    { token: manager },
  );
  expect(tooLong.errors?.[0].extensions).toMatchObject({
    code: 'BAD_USER_INPUT',
    field: 'input.durationMinutes',
  });
  const list = await ok(
    '{ services(first: 10, filter: { search: "bala" }) { nodes { name durationMinutes } } }',
    {},
    staff,
  );
  expect(list.services.nodes).toEqual([{ name: 'Balayage', durationMinutes: 120 }]);
});

test('customers: create, search by name, phone and email, notes', async () => {
  const { createCustomer } = await ok(
    'mutation { createCustomer(input: { name: "Lena Fischer", phone: "0171 2223334", email: "Lena@Example.com" }) { id phoneE164 email } }',
    {},
    manager,
  );
  expect(createCustomer).toMatchObject({ phoneE164: '+491712223334', email: 'lena@example.com' });
  for (const search of ['lena', '+49 171 2223334', '01712223334', 'lena@example.com']) {
    const res = await ok(
      'query($q: String) { customers(first: 5, filter: { search: $q }) { nodes { name } } }',
      { q: search },
      staff,
    );
    expect([search, res.customers.nodes]).toEqual([search, [{ name: 'Lena Fischer' }]]);
  }
  const { addCustomerNote } = await ok(
    'mutation($c: ID!) { addCustomerNote(customerId: $c, body: "Prefers mornings") { id body customer { name } } }',
    { c: createCustomer.id },
    staff,
  );
  expect(addCustomerNote.customer.name).toBe('Lena Fischer');
  const notes = await ok(
    'query($id: ID!) { node(id: $id) { ... on Customer { notes(first: 5) { nodes { body author { name } } } } } }',
    { id: createCustomer.id },
    admin,
  );
  expect(notes.node.notes.nodes).toEqual([
    { body: 'Prefers mornings', author: { name: 'staff alpha' } },
  ]);
  await ok(
    'mutation($id: ID!) { archiveCustomer(id: $id) { archivedAt } }',
    { id: createCustomer.id },
    manager,
  );
});

test('appointments: filters, order, and a staff user sees their own', async () => {
  const res = await ok(
    `query($s: ID!) { appointments(first: 10, filter: { staffId: $s, status: [SCHEDULED] }, orderBy: { field: STARTS_AT, direction: DESC }) {
      nodes { status source customer { name } staff { name } service { name } branch { name } call { retellCallId } }
    } }`,
    { s: globalId('Staff', w.a.id, w.a.staffId) },
  );
  expect(res.appointments.nodes).toEqual([
    {
      status: 'SCHEDULED',
      source: 'PHONE',
      customer: { name: 'Customer alpha' },
      staff: { name: 'Stylist alpha' },
      service: { name: 'Haircut' },
      branch: { name: 'Main' },
      call: { retellCallId: 'call-alpha' },
    },
  ]);
  const mine = await ok('{ appointments(first: 10) { totalCount } }', {}, staff);
  expect(mine.appointments.totalCount).toBe(1);
  const range = await ok(
    'query($f: DateTime) { appointments(first: 10, filter: { startsAt: { from: $f } }) { totalCount } }',
    { f: new Date(Date.now() + 30 * 86400_000).toISOString() },
  );
  expect(range.appointments.totalCount).toBe(0);
  const badRange = await s.gql(
    '{ appointments(first: 1, filter: { startsAt: { from: "2030-01-02T00:00:00Z", to: "2030-01-01T00:00:00Z" } }) { totalCount } }',
    {},
    { token: admin },
  );
  expect(badRange.errors?.[0].extensions).toMatchObject({
    code: 'BAD_USER_INPUT',
    field: 'filter.startsAt',
  });
});

test('calls, phone numbers, users, company, dashboard and the audit trail', async () => {
  const calls = await ok(
    '{ calls(first: 5) { nodes { retellCallId outcome customer { name } } } }',
    {},
    manager,
  );
  expect(calls.calls.nodes).toEqual([
    { retellCallId: 'call-alpha', outcome: 'booked', customer: { name: 'Customer alpha' } },
  ]);
  // A number belongs to one company platform-wide: a super admin assigns it, in the company.
  const root = await w.login(w.superAdmin.email);
  const assigned = await s.gql(
    'mutation { savePhoneNumber(input: { number: "+49 30 9876543", label: "Front desk" }) { numberE164 active } }',
    {},
    { token: root, headers: { 'x-company-id': w.a.id } },
  );
  expect(assigned.errors).toBeUndefined();
  expect(assigned.data!.savePhoneNumber).toEqual({ numberE164: '+49309876543', active: true });
  const users = await ok('{ users(first: 10) { totalCount nodes { email roles } } }', {}, manager);
  expect(users.users.totalCount).toBeGreaterThanOrEqual(3);
  const { updateCompany } = await ok(
    'mutation { updateCompany(input: { timezone: "Europe/Vienna", defaultRegion: "at" }) { timezone defaultRegion } }',
  );
  expect(updateCompany).toEqual({ timezone: 'Europe/Vienna', defaultRegion: 'AT' });
  const dashboard = await ok(
    'query($d: String) { dashboard(date: $d) { appointmentsByStatus { status count } callsToday callBookingRate openCallbackRequests } }',
    { d: new Date(Date.now() + 3 * 86400_000).toISOString().slice(0, 10) },
    manager,
  );
  expect(dashboard.dashboard.appointmentsByStatus).toEqual([{ status: 'scheduled', count: 1 }]);
  const today = await ok('{ dashboard { callsToday callBookingRate } }', {}, manager);
  expect(today.dashboard).toEqual({ callsToday: 1, callBookingRate: 1 });
  const logs = await ok(
    '{ activityLogs(first: 100, filter: { action: "company.update" }) { nodes { action actorType details } } }',
  );
  expect(logs.activityLogs.nodes).toEqual([
    {
      action: 'company.update',
      actorType: 'user',
      details: { fields: ['timezone', 'default_region'] },
    },
  ]);
});

test('node() fetches every type by its global id, guarded by the read rule of its type', async () => {
  const ids = {
    Appointment: w.a.appointmentId,
    Customer: w.a.customerId,
    Staff: w.a.staffId,
    Branch: w.a.branchId,
    Service: w.a.serviceId,
    Call: w.a.callId,
    User: w.a.users.staff.id,
  };
  for (const [type, id] of Object.entries(ids)) {
    const res = await ok('query($id: ID!) { node(id: $id) { id __typename } }', {
      id: globalId(type, w.a.id, id),
    });
    expect(res.node).toEqual({ id: globalId(type, w.a.id, id), __typename: type });
  }
  const denied = await s.gql(
    'query($id: ID!) { node(id: $id) { id } }',
    { id: globalId('Call', w.a.id, w.a.callId) },
    { token: staff },
  );
  expect(denied.errors?.[0].extensions?.code).toBe('FORBIDDEN');
  const many = await ok('query($ids: [ID!]!) { nodes(ids: $ids) { __typename } }', {
    ids: [
      globalId('Customer', w.a.id, w.a.customerId),
      globalId('Customer', w.b.id, w.b.customerId),
    ],
  });
  expect(many.nodes).toEqual([{ __typename: 'Customer' }, null]);
});
