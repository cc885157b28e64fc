import { startTestServer, type TestServer } from '../helpers/server';
import { createWorld, type World } from '../helpers/world';

/**
 * A page of 100 appointments with customer, staff and service costs the same number of SQL
 * statements as a page of 1: the relations are joined into the page statement (and, where they
 * are not, batched per request by DataLoaders).
 */
let s: TestServer;
let w: World;
let token: string;

beforeAll(async () => {
  s = await startTestServer();
  w = await createWorld(s);
  token = await w.login(w.a.users.admin.email);
  const db = s.t.superuser;
  const c = w.a.id;
  // 120 appointments, each with its own customer, spread over 10 staff and 10 services.
  const staff = await db('staff')
    .insert(Array.from({ length: 10 }, (_, i) => ({ company_id: c, name: `S${i}` })))
    .returning('id');
  const services = await db('services')
    .insert(
      Array.from({ length: 10 }, (_, i) => ({
        company_id: c,
        name: `Svc${i}`,
        duration_minutes: 30,
      })),
    )
    .returning('id');
  const customers = await db('customers')
    .insert(Array.from({ length: 120 }, (_, i) => ({ company_id: c, name: `C${i}` })))
    .returning('id');
  const base = Date.UTC(2030, 0, 1, 8);
  await db('appointments').insert(
    customers.map((cu: { id: string }, i: number) => ({
      company_id: c,
      customer_id: cu.id,
      staff_id: staff[i % 10].id,
      service_id: services[i % 10].id,
      starts_at: new Date(base + i * 3600_000),
      ends_at: new Date(base + i * 3600_000 + 1800_000),
    })),
  );
});
afterAll(async () => s.close());

async function statementsFor(first: number): Promise<{ statements: number; rows: number }> {
  let statements = 0;
  // The webhook worker polls on the same pools once a second; its statements are not the request's.
  // The liveness check runs on the platform handle, the rest on the runtime's: both are counted.
  const count = (q: { sql: string }) => {
    if (!q.sql.includes('webhook')) statements += 1;
  };
  s.t.db.knex.on('query', count);
  s.t.db.platform.on('query', count);
  try {
    const res = await s.gql<{ appointments: { nodes: unknown[] } }>(
      `query($first: Int!) { appointments(first: $first) {
         nodes { id startsAt status customer { name phoneE164 } staff { name } service { name durationMinutes } }
       } }`,
      { first },
      { token },
    );
    expect(res.errors).toBeUndefined();
    return { statements, rows: res.data!.appointments.nodes.length };
  } finally {
    s.t.db.knex.off('query', count);
    s.t.db.platform.off('query', count);
  }
}

test('statements per request do not grow with the page size', async () => {
  const one = await statementsFor(1);
  const hundred = await statementsFor(100);
  expect(one.rows).toBe(1);
  expect(hundred.rows).toBe(100);
  expect(hundred.statements).toBe(one.statements);
  // The access-token liveness check, BEGIN, set_config, the page (customers, staff and services
  // joined in), COMMIT.
  expect(hundred.statements).toBeLessThanOrEqual(5);
  console.log(
    `statements per request: first:1 -> ${one.statements}, first:100 -> ${hundred.statements}`,
  );
});
