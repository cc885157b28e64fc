import { startTestServer, type TestServer } from '../helpers/server';
import { createWorld, globalId, type World } from '../helpers/world';

/**
 * Role x operation matrix over real HTTP: each actor runs each operation in company A, and the
 * outcome must match the table. OK means data came back without errors.
 */
type Outcome = 'OK' | 'FORBIDDEN' | 'UNAUTHENTICATED';
type ActorName =
  'admin' | 'manager' | 'staff' | 'token' | 'anonymous' | 'superAdmin' | 'superAdminInA';

let s: TestServer;
let w: World;
let apiToken: string;
let n = 0;

const ops: Record<string, () => { query: string; variables?: Record<string, unknown> }> = {
  me: () => ({ query: '{ me { actorType } }' }),
  companies: () => ({ query: '{ companies { id } }' }),
  users: () => ({ query: '{ users(first: 5) { totalCount } }' }),
  apiTokens: () => ({ query: '{ apiTokens(first: 5) { totalCount } }' }),
  branches: () => ({ query: '{ branches(first: 5) { totalCount } }' }),
  customers: () => ({ query: '{ customers(first: 5) { totalCount } }' }),
  appointments: () => ({ query: '{ appointments(first: 5) { totalCount } }' }),
  calls: () => ({ query: '{ calls(first: 5) { totalCount } }' }),
  phoneNumbers: () => ({ query: '{ phoneNumbers(first: 5) { totalCount } }' }),
  callbackRequests: () => ({ query: '{ callbackRequests(first: 5) { totalCount } }' }),
  policies: () => ({ query: '{ policyConfigurations(first: 5) { totalCount } }' }),
  activityLogs: () => ({ query: '{ activityLogs(first: 5) { totalCount } }' }),
  dashboard: () => ({ query: '{ dashboard { callsToday } }' }),
  createBranch: () => ({
    query: 'mutation($n: String!) { createBranch(input: { name: $n }) { id } }',
    variables: { n: `Branch ${++n}` },
  }),
  createCustomer: () => ({
    query: 'mutation($n: String!) { createCustomer(input: { name: $n }) { id } }',
    variables: { n: `Customer ${++n}` },
  }),
  createStaffUser: () => ({
    query:
      'mutation($e: EmailAddress!) { createUser(input: { email: $e, name: "New", password: "long-enough-password", roles: [STAFF] }) { id } }',
    variables: { e: `new${++n}@alpha.test` },
  }),
  createApiToken: () => ({
    query: 'mutation { createApiToken(input: { name: "t", scopes: ["catalog:read"] }) { token } }',
  }),
  updateCompany: () => ({
    query: 'mutation { updateCompany(input: { name: "Alpha Ltd" }) { name } }',
  }),
};

const O = 'OK',
  F = 'FORBIDDEN',
  U = 'UNAUTHENTICATED';
//                         admin manager staff token anon superAdmin superAdminInA
const matrix: Record<string, Outcome[]> = {
  me: [O, O, O, O, U, O, O],
  companies: [F, F, F, F, U, O, O],
  users: [O, O, F, F, U, F, O],
  apiTokens: [O, F, F, F, U, F, O],
  branches: [O, O, O, F, U, F, O],
  customers: [O, O, O, O, U, F, O],
  appointments: [O, O, O, O, U, F, O],
  calls: [O, O, F, F, U, F, O],
  phoneNumbers: [O, O, F, F, U, F, O],
  callbackRequests: [O, O, O, F, U, F, O],
  policies: [O, O, O, F, U, F, O],
  activityLogs: [O, F, F, F, U, F, O],
  dashboard: [O, O, F, F, U, F, O],
  createBranch: [O, O, F, F, U, F, O],
  createCustomer: [O, O, F, F, U, F, O],
  createStaffUser: [O, O, F, F, U, F, O],
  createApiToken: [O, F, F, F, U, F, O],
  updateCompany: [O, F, F, F, U, F, O],
};
const actors: ActorName[] = [
  'admin',
  'manager',
  'staff',
  'token',
  'anonymous',
  'superAdmin',
  'superAdminInA',
];

beforeAll(async () => {
  s = await startTestServer();
  w = await createWorld(s);
  const admin = await w.login(w.a.users.admin.email);
  const created = await s.gql<{ createApiToken: { token: string } }>(
    'mutation { createApiToken(input: { name: "partner", scopes: ["appointments:read", "customers:read"] }) { token } }',
    {},
    { token: admin },
  );
  apiToken = created.data!.createApiToken.token;
});
afterAll(async () => s.close());

async function run(actor: ActorName, op: string): Promise<Outcome | string> {
  const { query, variables } = ops[op]();
  let token: string | undefined;
  let headers: Record<string, string> | undefined;
  if (actor === 'admin' || actor === 'manager' || actor === 'staff') {
    token = await w.login(w.a.users[actor].email);
  } else if (actor === 'token') {
    token = apiToken;
  } else if (actor === 'superAdmin' || actor === 'superAdminInA') {
    token = await w.login(w.superAdmin.email);
    if (actor === 'superAdminInA') headers = { 'x-company-id': w.a.id };
  }
  const res = await s.gql(query, variables, { token, headers });
  if (!res.errors) return 'OK';
  return res.errors[0].extensions?.code ?? JSON.stringify(res.errors);
}

const cases = Object.entries(matrix).flatMap(([op, row]) =>
  row.map((expected, i) => [op, actors[i], expected] as const),
);

test.each(cases)('%s as %s -> %s', async (op, actor, expected) => {
  expect(await run(actor, op)).toBe(expected);
});

/**
 * Staff × another staff member's object, for every appointment path and for customer notes. Each
 * case gets fresh objects of one staff member: the staff user's own (column staffOwn) or another
 * staff member's (staffOther; admin, manager and the token also act on another staff member's).
 * NOT_FOUND means answered as if the object did not exist: an error with that code from a
 * mutation, null from node/nodes, absence from a list. FORBIDDEN is for acting on something the
 * actor can see but may not change: another staff member's note, booking onto another staff member.
 */
type OwnActor = 'admin' | 'manager' | 'staffOwn' | 'staffOther' | 'token';
const ownActors: OwnActor[] = ['admin', 'manager', 'staffOwn', 'staffOther', 'token'];

interface Target {
  /** Global ids of fresh objects belonging to one staff member. */
  appointment: string;
  pastAppointment: string;
  /** An appointment of the staff user's own, rescheduled from `appointment`. */
  replacement: string;
  workingHour: string;
  note: string;
  /** The owner (staff) and the other staff member. */
  staff: string;
  otherStaff: string;
}

let ownToken: string;
let slot = 0;
const N = 'NOT_FOUND';

/** Start times not used by any other case. */
const DAY = 86400_000;
const fixtureStart = (past = false) => {
  // Fixture rows are written directly: any time will do, but never twice the same.
  slot += 1;
  return new Date(
    Math.floor(Date.now() / DAY) * DAY +
      (past ? -2 * DAY : 200 * DAY) +
      slot * 3600_000 * (past ? -1 : 1),
  );
};
let bookable = 0;
/** A time inside both staff members' working hours and the booking horizon. */
const nextStart = () => {
  bookable += 1;
  const d = new Date(Date.now() + (10 + Math.floor(bookable / 4)) * DAY);
  d.setUTCHours(8, 0, 0, 0);
  return new Date(d.getTime() + (bookable % 4) * 90 * 60_000);
};

async function makeTarget(owner: 'own' | 'other'): Promise<Target> {
  const db = s.t.superuser;
  const c = w.a.id;
  const staffId = owner === 'own' ? w.a.staffId : w.a.otherStaffId;
  const otherStaffId = owner === 'own' ? w.a.otherStaffId : w.a.staffId;
  const appointment = async (staff: string, starts: Date, from?: string) => {
    const [row] = await db('appointments')
      .insert({
        company_id: c,
        customer_id: w.a.customerId,
        service_id: w.a.serviceId,
        staff_id: staff,
        branch_id: w.a.branchId,
        starts_at: starts,
        ends_at: new Date(starts.getTime() + 30 * 60_000),
        source: 'manual',
        rescheduled_from_id: from ?? null,
      })
      .returning('id');
    return row.id as string;
  };
  const a = await appointment(staffId, fixtureStart());
  const past = await appointment(staffId, fixtureStart(true));
  const replacement = await appointment(w.a.staffId, fixtureStart(), a);
  const [wh] = await db('working_hours')
    .insert({ company_id: c, staff_id: staffId, weekday: 1, starts_at: '06:00', ends_at: '07:00' })
    .returning('id');
  const author = owner === 'own' ? w.a.users.staff.id : otherStaffUserId;
  const [note] = await db('customer_notes')
    .insert({ company_id: c, customer_id: w.a.customerId, author_user_id: author, body: 'Note' })
    .returning('id');
  return {
    appointment: globalId('Appointment', c, a),
    pastAppointment: globalId('Appointment', c, past),
    replacement: globalId('Appointment', c, replacement),
    workingHour: globalId('WorkingHour', c, wh.id),
    note: globalId('CustomerNote', c, note.id),
    staff: globalId('Staff', c, staffId),
    otherStaff: globalId('Staff', c, otherStaffId),
  };
}

let otherStaffUserId: string;

type OwnOp = (t: Target) => {
  query: string;
  variables?: Record<string, unknown>;
  /** Outcome from a successful answer; default OK. */
  read?: (data: Record<string, any>) => string;
};

const isListed = (found: boolean) => (found ? 'OK' : N);
const MOVE =
  'mutation($id: ID!, $t: DateTime!, $s: ID) { rescheduleAppointment(id: $id, input: { startsAt: $t, staffId: $s }) { appointment { id } } }';
const BOOK_AT = `mutation($s: ID!, $st: ID, $t: DateTime!, $c: ID!) {
  bookAppointment(input: { serviceId: $s, staffId: $st, startsAt: $t, customerId: $c }) { appointment { id } }
}`;

const ownOps: Record<string, OwnOp> = {
  node: (t) => ({
    query: 'query($id: ID!) { node(id: $id) { id } }',
    variables: { id: t.appointment },
    read: (d) => isListed(d.node !== null),
  }),
  nodes: (t) => ({
    query: 'query($ids: [ID!]!) { nodes(ids: $ids) { id } }',
    variables: { ids: [t.appointment, t.pastAppointment] },
    read: (d) => isListed(d.nodes.every((x: unknown) => x !== null)),
  }),
  connection: (t) => ({
    query: 'query($s: ID!) { appointments(first: 100, filter: { staffId: $s }) { nodes { id } } }',
    variables: { s: t.staff },
    read: (d) => isListed(d.appointments.nodes.some((x: { id: string }) => x.id === t.appointment)),
  }),
  rescheduledFrom: (t) => ({
    query: 'query($id: ID!) { node(id: $id) { ... on Appointment { rescheduledFrom { id } } } }',
    variables: { id: t.replacement },
    read: (d) => isListed(d.node?.rescheduledFrom != null),
  }),
  workingHourNode: (t) => ({
    query: 'query($id: ID!) { node(id: $id) { id } }',
    variables: { id: t.workingHour },
    read: (d) => isListed(d.node !== null),
  }),
  confirm: (t) => ({
    query: 'mutation($id: ID!) { confirmAppointment(id: $id) { status } }',
    variables: { id: t.appointment },
  }),
  cancel: (t) => ({
    query: 'mutation($id: ID!) { cancelAppointment(id: $id) { appointment { status } } }',
    variables: { id: t.appointment },
  }),
  reschedule: (t) => ({
    query: MOVE,
    variables: { id: t.appointment, t: nextStart().toISOString() },
  }),
  rescheduleOntoOther: (t) => ({
    query: MOVE,
    variables: { id: t.appointment, t: nextStart().toISOString(), s: t.otherStaff },
  }),
  complete: (t) => ({
    query: 'mutation($id: ID!) { completeAppointment(id: $id) { status } }',
    variables: { id: t.pastAppointment },
  }),
  markNoShow: (t) => ({
    query: 'mutation($id: ID!) { markNoShow(id: $id) { status } }',
    variables: { id: t.pastAppointment },
  }),
  bookOnto: (t) => ({
    query: BOOK_AT,
    variables: {
      s: globalId('Service', w.a.id, w.a.serviceId),
      st: t.staff,
      t: nextStart().toISOString(),
      c: globalId('Customer', w.a.id, w.a.customerId),
    },
  }),
  addNote: () => ({
    query: 'mutation($c: ID!) { addCustomerNote(customerId: $c, body: "Called back") { id } }',
    variables: { c: globalId('Customer', w.a.id, w.a.customerId) },
  }),
  deleteNote: (t) => ({
    query: 'mutation($id: ID!) { deleteCustomerNote(id: $id) }',
    variables: { id: t.note },
  }),
};

//                                admin manager staffOwn staffOther token
const ownMatrix: Record<string, string[]> = {
  node: [O, O, O, N, O],
  nodes: [O, O, O, N, O],
  connection: [O, O, O, N, O],
  rescheduledFrom: [O, O, O, N, O],
  workingHourNode: [O, O, O, N, F],
  confirm: [O, O, O, N, O],
  cancel: [O, O, O, N, O],
  reschedule: [O, O, O, N, O],
  rescheduleOntoOther: [O, O, F, N, O],
  complete: [O, O, O, N, O],
  markNoShow: [O, O, O, N, O],
  bookOnto: [O, O, O, F, O],
  addNote: [O, O, O, O, O],
  deleteNote: [O, O, O, F, O],
};

describe("staff × another staff member's object", () => {
  beforeAll(async () => {
    const db = s.t.superuser;
    // The other staff member performs the service and works, and has a staff user of their own.
    await db('staff_services').insert({
      company_id: w.a.id,
      staff_id: w.a.otherStaffId,
      service_id: w.a.serviceId,
    });
    await db('working_hours').insert(
      [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({
        company_id: w.a.id,
        staff_id: w.a.otherStaffId,
        branch_id: w.a.branchId,
        weekday,
        starts_at: '08:00',
        ends_at: '18:00',
      })),
    );
    const [u] = await db('users')
      .insert({
        company_id: w.a.id,
        email: 'staff2@alpha.test',
        name: 'Second staff',
        password_hash: 'x',
        roles: ['staff'],
        staff_id: w.a.otherStaffId,
      })
      .returning('id');
    otherStaffUserId = u.id;
    const admin = await w.login(w.a.users.admin.email);
    const created = await s.gql<{ createApiToken: { token: string } }>(
      'mutation { createApiToken(input: { name: "partner", scopes: ["appointments:read", "appointments:write", "customers:read", "customers:write"] }) { token } }',
      {},
      { token: admin },
    );
    ownToken = created.data!.createApiToken.token;
  });

  const ownCases = Object.entries(ownMatrix).flatMap(([op, row]) =>
    row.map((expected, i) => [op, ownActors[i], expected] as const),
  );

  test('a staff user who names no staff member books onto their own schedule', async () => {
    const res = await s.gql(
      `mutation($s: ID!, $t: DateTime!, $c: ID!) {
        bookAppointment(input: { serviceId: $s, startsAt: $t, customerId: $c }) { appointment { staff { id } } }
      }`,
      {
        s: globalId('Service', w.a.id, w.a.serviceId),
        t: nextStart().toISOString(),
        c: globalId('Customer', w.a.id, w.a.customerId),
      },
      { token: await w.login(w.a.users.staff.email) },
    );
    expect(res.errors).toBeUndefined();
    expect(res.data?.bookAppointment.appointment.staff.id).toBe(
      globalId('Staff', w.a.id, w.a.staffId),
    );
  });

  test('a staff user without a staff record sees no appointment and books none', async () => {
    const db = s.t.superuser;
    const [u] = await db('users')
      .insert({
        company_id: w.a.id,
        email: 'nostaff@alpha.test',
        name: 'No staff record',
        password_hash: (await db('users').where({ id: w.a.users.staff.id }).first()).password_hash,
        roles: ['staff'],
      })
      .returning('id');
    expect(u.id).toBeDefined();
    const token = await w.login('nostaff@alpha.test');
    const list = await s.gql('{ appointments(first: 100) { totalCount } }', {}, { token });
    expect(list.data?.appointments.totalCount).toBe(0);
    const node = await s.gql(
      'query($id: ID!) { node(id: $id) { id } }',
      { id: globalId('Appointment', w.a.id, w.a.appointmentId) },
      { token },
    );
    expect(node.data?.node).toBeNull();
    const book = await s.gql(
      `mutation($s: ID!, $t: DateTime!, $c: ID!) {
        bookAppointment(input: { serviceId: $s, startsAt: $t, customerId: $c }) { appointment { id } }
      }`,
      {
        s: globalId('Service', w.a.id, w.a.serviceId),
        t: nextStart().toISOString(),
        c: globalId('Customer', w.a.id, w.a.customerId),
      },
      { token },
    );
    expect(book.errors?.[0].extensions).toMatchObject({
      code: 'FORBIDDEN',
      field: 'input.staffId',
    });
  });

  test('refusals are counted as authorization denials', async () => {
    const denials = async () => {
      const metric = await s.server.deps.metrics.authorizationDenials.get();
      return metric.values
        .filter((v) => String(v.labels.rule).startsWith('own:'))
        .reduce((sum, v) => sum + v.value, 0);
    };
    const before = await denials();
    const target = await makeTarget('other');
    await s.gql(
      'mutation($id: ID!) { confirmAppointment(id: $id) { status } }',
      { id: target.appointment },
      { token: await w.login(w.a.users.staff.email) },
    );
    expect(await denials()).toBe(before + 1);
  });

  test.each(ownCases)('%s as %s -> %s', async (op, actor, expected) => {
    const target = await makeTarget(actor === 'staffOwn' ? 'own' : 'other');
    const token =
      actor === 'token'
        ? ownToken
        : await w.login(
            w.a.users[actor === 'admin' || actor === 'manager' ? actor : 'staff'].email,
          );
    const { query, variables, read } = ownOps[op](target);
    const res = await s.gql(query, variables, { token });
    const outcome = res.errors
      ? (res.errors[0].extensions?.code ?? JSON.stringify(res.errors))
      : (read?.(res.data!) ?? 'OK');
    expect(outcome).toBe(expected);
  });
});
