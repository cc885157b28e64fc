import { PAGE_TABLES } from '../../src/scheduling/appointment-page';
import { startTestServer, type TestServer } from '../helpers/server';
import { createWorld, globalId, type World } from '../helpers/world';

/**
 * A page of appointments with its customer, staff member and service is one statement: the
 * relations are joined into the page query, which runs as the runtime role in the request's
 * tenant transaction, reads only the columns the selection needs, and leaves the ownership rule
 * (staff users see their own) and the field permissions (Staff.email needs catalog:read) as they
 * were.
 */
let s: TestServer;
let w: World;
let admin: string;

const PAGE = `query($first: Int!) { appointments(first: $first) {
  edges { cursor node {
    id startsAt endsAt status
    customer { id name phoneE164 email }
    staff { id name }
    service { id name durationMinutes priceCents }
  } }
  pageInfo { hasNextPage endCursor }
} }`;

interface PageNode {
  id: string;
  startsAt: string;
  endsAt: string;
  status: string;
  customer: { id: string; name: string; phoneE164: string | null; email: string | null };
  staff: { id: string; name: string } | null;
  service: { id: string; name: string; durationMinutes: number; priceCents: number };
}
type Page = { appointments: { edges: Array<{ cursor: string; node: PageNode }> } };

beforeAll(async () => {
  s = await startTestServer();
  w = await createWorld(s);
  admin = await w.login(w.a.users.admin.email);
  const db = s.t.superuser;
  const c = w.a.id;
  const customers = await db('customers')
    .insert(
      Array.from({ length: 12 }, (_, i) => ({
        company_id: c,
        name: `Page customer ${i}`,
        phone_e164: `+49170000${String(i).padStart(4, '0')}`,
        email: i % 2 ? `p${i}@page.test` : null,
      })),
    )
    .returning('id');
  const base = Date.UTC(2031, 0, 6, 8);
  await db('appointments').insert(
    customers.map((cu: { id: string }, i: number) => ({
      company_id: c,
      customer_id: cu.id,
      service_id: w.a.serviceId,
      // Every third without a staff member: the join must keep the appointment, with staff null.
      staff_id: i % 3 === 2 ? null : i % 3 === 0 ? w.a.staffId : w.a.otherStaffId,
      starts_at: new Date(base + i * 3600_000),
      ends_at: new Date(base + i * 3600_000 + 1800_000),
      notes: `note ${i}`,
    })),
  );
});
afterAll(async () => s.close());

/** Runs `fn` and returns the statements each database handle saw meanwhile. */
async function statementsOf<T>(
  fn: () => Promise<T>,
): Promise<{ result: T; runtime: string[]; platform: string[] }> {
  const runtime: string[] = [];
  const platform: string[] = [];
  // The webhook worker polls on the same pools; its statements are not the request's.
  const onRuntime = (q: { sql: string }) => {
    if (!q.sql.includes('webhook')) runtime.push(q.sql);
  };
  const onPlatform = (q: { sql: string }) => {
    if (!q.sql.includes('webhook')) platform.push(q.sql);
  };
  s.t.db.knex.on('query', onRuntime);
  s.t.db.platform.on('query', onPlatform);
  try {
    return { result: await fn(), runtime, platform };
  } finally {
    s.t.db.knex.off('query', onRuntime);
    s.t.db.platform.off('query', onPlatform);
  }
}

const isControl = (sql: string) =>
  /^(begin|commit|rollback)/i.test(sql.trim()) || sql.includes('set_config');

test('the page with customer, staff and service is one data statement, as the runtime role', async () => {
  const { result, runtime, platform } = await statementsOf(() =>
    s.gql<Page>(PAGE, { first: 50 }, { token: admin }),
  );
  expect(result.errors).toBeUndefined();
  expect(result.data!.appointments.edges.length).toBe(13);
  // On the runtime role's handle: BEGIN READ ONLY with the tenant binding and the session check
  // (one round trip), the page, COMMIT.
  expect(runtime).toHaveLength(3);
  expect(runtime[0]).toMatch(/^begin transaction read only;/i);
  expect(runtime[0]).toContain("set_config('app.company_id'");
  expect(runtime[0]).toContain('session_access_status(');
  expect(runtime[runtime.length - 1]).toMatch(/^commit/i);
  const data = runtime.filter((sql) => !isControl(sql));
  expect(data).toHaveLength(1);
  const [page] = data;
  expect(page).toMatch(/from "appointments" left join "customers" as "joined_customer"/);
  expect(page).toContain('left join "staff" as "joined_staff"');
  expect(page).toContain('left join "services" as "joined_service"');
  // Each join is on the company as well as the id; the tenant filter is on the appointments.
  expect(page).toContain('"joined_customer"."company_id" = "appointments"."company_id"');
  expect(page).toMatch(/"appointments"\."company_id" = (\?|\$\d)/);
  // Only what the selection needs: no columns of fields that were not asked for.
  expect(page).not.toContain('cancellation_reason');
  expect(page).not.toContain('"joined_customer"."preferred_language"');
  expect(page).not.toMatch(/"appointments"\.\*/);
  // Nothing on the platform handle: the session was checked in the first round trip.
  expect(platform).toEqual([]);
});

test('the joined rows are the rows of the database, and the page is flat in size', async () => {
  const res = await s.gql<Page>(PAGE, { first: 50 }, { token: admin });
  const rows = await s.t
    .superuser('appointments as a')
    .leftJoin('customers as c', 'c.id', 'a.customer_id')
    .leftJoin('staff as st', 'st.id', 'a.staff_id')
    .join('services as sv', 'sv.id', 'a.service_id')
    .where('a.company_id', w.a.id)
    .orderBy([
      { column: 'a.starts_at', order: 'asc' },
      { column: 'a.id', order: 'asc' },
    ])
    .select(
      'a.id',
      'a.starts_at',
      'a.ends_at',
      'a.status',
      'a.customer_id',
      'c.name as customer_name',
      'c.phone_e164',
      'c.email',
      'a.staff_id',
      'st.name as staff_name',
      'a.service_id',
      'sv.name as service_name',
      'sv.duration_minutes',
      'sv.price_cents',
    );
  const c = w.a.id;
  expect(res.data!.appointments.edges.map((e) => e.node)).toEqual(
    rows.map((r) => ({
      id: globalId('Appointment', c, r.id),
      startsAt: r.starts_at.toISOString(),
      endsAt: r.ends_at.toISOString(),
      status: r.status.toUpperCase(),
      customer: {
        id: globalId('Customer', c, r.customer_id),
        name: r.customer_name,
        phoneE164: r.phone_e164,
        email: r.email,
      },
      staff: r.staff_id ? { id: globalId('Staff', c, r.staff_id), name: r.staff_name } : null,
      service: {
        id: globalId('Service', c, r.service_id),
        name: r.service_name,
        durationMinutes: r.duration_minutes,
        priceCents: r.price_cents,
      },
    })),
  );
  const one = await statementsOf(() => s.gql<Page>(PAGE, { first: 1 }, { token: admin }));
  const all = await statementsOf(() => s.gql<Page>(PAGE, { first: 50 }, { token: admin }));
  expect(all.runtime.length).toBe(one.runtime.length);
});

test('aliases and fragments are read too, and the cursor pages on', async () => {
  const query = `query($after: String) { appointments(first: 4, after: $after) {
    nodes { ...A c2: customer { email } staff { ... on Staff { color } } }
    pageInfo { endCursor }
  } }
  fragment A on Appointment { notes customer { name } }`;
  const first = await statementsOf(() =>
    s.gql<{
      appointments: {
        nodes: Array<{
          notes: string;
          customer: { name: string };
          c2: { email: string | null };
          staff: { color: string | null } | null;
        }>;
        pageInfo: { endCursor: string };
      };
    }>(query, {}, { token: admin }),
  );
  expect(first.result.errors).toBeUndefined();
  expect(first.runtime.filter((sql) => !isControl(sql))).toHaveLength(1);
  const nodes = first.result.data!.appointments.nodes;
  expect(nodes).toHaveLength(4);
  const dbRows = await s.t
    .superuser('appointments as a')
    .join('customers as c', 'c.id', 'a.customer_id')
    .where('a.company_id', w.a.id)
    .orderBy([
      { column: 'a.starts_at', order: 'asc' },
      { column: 'a.id', order: 'asc' },
    ])
    .select('a.notes', 'c.name', 'c.email');
  expect(nodes.map((n) => [n.notes, n.customer.name, n.c2.email])).toEqual(
    dbRows.slice(0, 4).map((r) => [r.notes, r.name, r.email]),
  );
  const next = await s.gql<{ appointments: { nodes: Array<{ notes: string }> } }>(
    query,
    { after: first.result.data!.appointments.pageInfo.endCursor },
    { token: admin },
  );
  expect(next.errors).toBeUndefined();
  expect(next.data!.appointments.nodes.map((n) => n.notes)).toEqual(
    dbRows.slice(4, 8).map((r) => r.notes),
  );
});

test('a staff user still sees only their own appointments, with their relations', async () => {
  const token = await w.login(w.a.users.staff.email);
  const { result, runtime } = await statementsOf(() => s.gql<Page>(PAGE, { first: 50 }, { token }));
  expect(result.errors).toBeUndefined();
  const own = await s.t
    .superuser('appointments')
    .where({ company_id: w.a.id, staff_id: w.a.staffId })
    .count<{ count: string }[]>('* as count');
  const nodes = result.data!.appointments.edges.map((e) => e.node);
  expect(nodes.length).toBe(Number(own[0].count));
  expect(nodes.length).toBeGreaterThan(1);
  for (const n of nodes) expect(n.staff?.id).toBe(globalId('Staff', w.a.id, w.a.staffId));
  // The ownership filter is in the one page statement.
  const data = runtime.filter((sql) => !isControl(sql));
  expect(data).toHaveLength(1);
  expect(data[0]).toMatch(/"appointments"\."staff_id" = (\?|\$\d)/);
});

test('field permissions still decide the joined fields (Staff.email needs catalog:read)', async () => {
  const createToken = async (scopes: string[]) => {
    const res = await s.gql<{ createApiToken: { token: string } }>(
      `mutation($scopes: [String!]!) { createApiToken(input: { name: "page", scopes: $scopes }) { token } }`,
      { scopes },
      { token: admin },
    );
    expect(res.errors).toBeUndefined();
    return res.data!.createApiToken.token;
  };
  const query = `{ appointments(first: 50) { nodes { id staff { name email } } } }`;
  const withCustomer = `{ appointments(first: 50) { nodes { id customer { name } } } }`;

  const narrow = await createToken(['appointments:read']);
  const hidden = await s.gql<{
    appointments: { nodes: Array<{ staff: { name: string; email: string | null } | null }> };
  }>(query, {}, { token: narrow });
  const staffed = hidden.data!.appointments.nodes.filter((n) => n.staff);
  expect(staffed.length).toBeGreaterThan(0);
  for (const n of staffed) {
    expect(n.staff!.name).toMatch(/Stylist|Other/);
    expect(n.staff!.email).toBeNull();
  }
  expect(hidden.errors!.length).toBe(staffed.length);
  for (const e of hidden.errors!) {
    expect(e.extensions?.code).toBe('FORBIDDEN');
    expect(e.path!.slice(-2)).toEqual(['staff', 'email']);
  }
  // Appointment.customer needs customers:read.
  const noCustomer = await s.gql(withCustomer, {}, { token: narrow });
  expect(noCustomer.errors!.length).toBeGreaterThan(0);
  expect(noCustomer.errors!.every((e) => e.extensions?.code === 'FORBIDDEN')).toBe(true);
  expect(JSON.stringify(noCustomer.data ?? null)).not.toContain('Page customer');

  const wide = await createToken(['appointments:read', 'catalog:read', 'customers:read']);
  const shown = await s.gql<{
    appointments: { nodes: Array<{ staff: { email: string | null } | null }> };
  }>(query, {}, { token: wide });
  expect(shown.errors).toBeUndefined();
  const emails = shown.data!.appointments.nodes.map((n) => n.staff?.email).filter(Boolean);
  expect(emails).toContain(`stylist@${w.a.slug}.test`);
  const customers = await s.gql(withCustomer, {}, { token: wide });
  expect(customers.errors).toBeUndefined();
});

test('the page knows every column of the tables it reads', async () => {
  for (const table of Object.values(PAGE_TABLES)) {
    const columns = await s.t
      .superuser('information_schema.columns')
      .where({ table_schema: 'public', table_name: table.table })
      .pluck('column_name');
    expect(Object.values(table.columns).sort()).toEqual([...columns].sort());
  }
});
