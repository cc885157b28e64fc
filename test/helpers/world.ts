import type { Knex } from 'knex';
import { hashPassword } from '../../src/auth/password';
import type { TestServer } from './server';

export const PASSWORD = 'correct-horse-battery';

export interface CompanyWorld {
  id: string;
  slug: string;
  branchId: string;
  staffId: string;
  otherStaffId: string;
  serviceId: string;
  customerId: string;
  appointmentId: string;
  callId: string;
  users: Record<'admin' | 'manager' | 'staff', { id: string; email: string }>;
}

export interface World {
  a: CompanyWorld;
  b: CompanyWorld;
  superAdmin: { id: string; email: string };
  /** Signs in and returns the access token. */
  login(email: string): Promise<string>;
  tokens: Record<string, string>;
}

let hashed: Promise<string> | undefined;

/**
 * Inserts a company through the superuser connection and returns its id: the one company row
 * every test world starts from (this world, the scheduling and webhook fixtures, the voice salons).
 * Columns left out take the database's defaults.
 */
export async function insertCompany(
  su: Knex,
  company: { name: string; slug: string; timezone?: string; defaultRegion?: string },
): Promise<string> {
  const [{ id }] = await su('companies')
    .insert({
      name: company.name,
      slug: company.slug,
      ...(company.timezone === undefined ? {} : { timezone: company.timezone }),
      ...(company.defaultRegion === undefined ? {} : { default_region: company.defaultRegion }),
    })
    .returning<{ id: string }[]>('id');
  return id;
}

async function seedCompany(db: Knex, slug: string, passwordHash: string): Promise<CompanyWorld> {
  const c = await insertCompany(db, {
    name: `Company ${slug}`,
    slug,
    timezone: 'Europe/Berlin',
    defaultRegion: 'DE',
  });
  const [branch] = await db('branches').insert({ company_id: c, name: 'Main' }).returning('id');
  const [staff] = await db('staff')
    .insert({
      company_id: c,
      name: `Stylist ${slug}`,
      branch_id: branch.id,
      email: `stylist@${slug}.test`,
    })
    .returning('id');
  const [other] = await db('staff')
    .insert({ company_id: c, name: `Other ${slug}`, branch_id: branch.id })
    .returning('id');
  const [service] = await db('services')
    .insert({
      company_id: c,
      name: 'Haircut',
      duration_minutes: 30,
      buffer_minutes: 10,
      price_cents: 3500,
    })
    .returning('id');
  await db('staff_services').insert({ company_id: c, staff_id: staff.id, service_id: service.id });
  await db('working_hours').insert(
    [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({
      company_id: c,
      staff_id: staff.id,
      branch_id: branch.id,
      weekday,
      starts_at: '09:00',
      ends_at: '17:00',
    })),
  );
  const [customer] = await db('customers')
    .insert({
      company_id: c,
      name: `Customer ${slug}`,
      phone_e164: '+4917012345678',
      email: `c@${slug}.test`,
    })
    .returning('id');
  const [call] = await db('calls')
    .insert({
      company_id: c,
      retell_call_id: `call-${slug}`,
      status: 'ended',
      outcome: 'booked',
      customer_id: customer.id,
    })
    .returning('id');
  const start = new Date(Date.now() + 3 * 86400_000);
  start.setUTCHours(9, 0, 0, 0);
  const [appointment] = await db('appointments')
    .insert({
      company_id: c,
      customer_id: customer.id,
      service_id: service.id,
      staff_id: staff.id,
      branch_id: branch.id,
      call_id: call.id,
      starts_at: start,
      ends_at: new Date(start.getTime() + 30 * 60_000),
      source: 'phone',
    })
    .returning('id');
  const users = {} as CompanyWorld['users'];
  for (const role of ['admin', 'manager', 'staff'] as const) {
    const email = `${role}@${slug}.test`;
    const [u] = await db('users')
      .insert({
        company_id: c,
        email,
        name: `${role} ${slug}`,
        password_hash: passwordHash,
        roles: [role],
        staff_id: role === 'staff' ? staff.id : null,
      })
      .returning('id');
    users[role] = { id: u.id, email };
  }
  return {
    id: c,
    slug,
    branchId: branch.id,
    staffId: staff.id,
    otherStaffId: other.id,
    serviceId: service.id,
    customerId: customer.id,
    appointmentId: appointment.id,
    callId: call.id,
    users,
  };
}

/** Two companies with one user per role each, and a super admin; set up through the superuser. */
export async function createWorld(server: TestServer): Promise<World> {
  hashed ??= hashPassword(PASSWORD);
  const passwordHash = await hashed;
  const db = server.t.superuser;
  const a = await seedCompany(db, 'alpha', passwordHash);
  const b = await seedCompany(db, 'beta', passwordHash);
  const [admin] = await db('platform_admins')
    .insert({ email: 'root@platform.test', name: 'Platform Root', password_hash: passwordHash })
    .returning('id');
  const tokens: Record<string, string> = {};
  const login = async (email: string) => {
    if (tokens[email]) return tokens[email];
    const res = await server.gql<{ login: { accessToken: string } }>(
      'mutation($e: String!, $p: String!) { login(input: { email: $e, password: $p }) { accessToken } }',
      { e: email, p: PASSWORD },
    );
    if (!res.data?.login)
      throw new Error(`login failed for ${email}: ${JSON.stringify(res.errors)}`);
    tokens[email] = res.data.login.accessToken;
    return tokens[email];
  };
  return { a, b, superAdmin: { id: admin.id, email: 'root@platform.test' }, login, tokens };
}

export const globalId = (type: string, companyId: string, id: string): string =>
  Buffer.from(`${type}:${companyId}:${id}`).toString('base64url');
