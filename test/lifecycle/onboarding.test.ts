import { createHash } from 'node:crypto';
import { DateTime } from 'luxon';
import { startTestServer, type TestServer } from '../helpers/server';
import { createWorld, type World } from '../helpers/world';

/** Onboarding end to end over HTTP: company, invitation, first sign-in, first booking. */
let s: TestServer;
let w: World;
let root: string;

beforeAll(async () => {
  s = await startTestServer();
  w = await createWorld(s);
  root = await w.login(w.superAdmin.email);
});
afterAll(async () => s.close());

const CREATE = `mutation($input: CreateCompanyInput!) {
  createCompany(input: $input) {
    company { id slug locale suspendedAt transcriptRetentionDays recordingRetentionDays }
    invitation { id email roles expiresAt token }
  }
}`;
const ACCEPT = `mutation($t: String!, $n: String!, $p: String!) {
  acceptInvitation(token: $t, name: $n, password: $p) { accessToken refreshToken }
}`;
const INVITE = `mutation($input: InviteUserInput!) { inviteUser(input: $input) { id email roles token } }`;
const PASSWORD = 'a-long-enough-password';

const input = (slug: string) => ({
  name: `Salon ${slug}`,
  slug,
  timezone: 'Europe/Vienna',
  locale: 'de-AT',
  defaultRegion: 'AT',
  branchName: 'Innenstadt',
  adminEmail: `owner@${slug}.test`,
});

test('invitation, first sign-in and first booking of a new company', async () => {
  const created = await s.gql(CREATE, { input: input('salon-neu') }, { token: root });
  expect(created.errors).toBeUndefined();
  const { company, invitation } = created.data!.createCompany;
  expect(company).toMatchObject({
    slug: 'salon-neu',
    locale: 'de-AT',
    suspendedAt: null,
    transcriptRetentionDays: 90,
    recordingRetentionDays: 90,
  });
  expect(invitation).toMatchObject({ email: 'owner@salon-neu.test', roles: ['admin'] });
  expect(invitation.token).toMatch(/^inv_/);
  const ttl = new Date(invitation.expiresAt).getTime() - Date.now();
  expect(ttl).toBeGreaterThan(6.9 * 86400_000);
  expect(ttl).toBeLessThanOrEqual(7 * 86400_000);

  // Only the hash of the token is stored.
  const stored = await s.t.superuser('user_invitations').where({ id: invitation.id }).first();
  expect(stored.token_hash).toBe(createHash('sha256').update(invitation.token).digest('hex'));
  expect(JSON.stringify(stored)).not.toContain(invitation.token.slice(40));

  // Audited on the platform and in the company.
  const platform = await s.t
    .superuser('platform_audit_log')
    .where({ target_company_id: company.id });
  expect(platform.map((r) => r.action)).toEqual(['company.create']);
  expect(platform[0]).toMatchObject({
    actor_type: 'platform_admin',
    actor_id: w.superAdmin.id,
    details: { slug: 'salon-neu' },
  });
  const branch = await s.t.superuser('branches').where({ company_id: company.id });
  expect(branch.map((b) => [b.name, b.timezone])).toEqual([['Innenstadt', 'Europe/Vienna']]);

  const short = await s.gql(ACCEPT, { t: invitation.token, n: 'Owner', p: 'short' });
  expect(short.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'password' });

  const accepted = await s.gql(ACCEPT, { t: invitation.token, n: 'Olga Owner', p: PASSWORD });
  expect(accepted.errors).toBeUndefined();
  const owner = accepted.data!.acceptInvitation.accessToken as string;
  expect(accepted.data!.acceptInvitation.refreshToken).toMatch(/^rt_/);

  // Single use.
  const again = await s.gql(ACCEPT, { t: invitation.token, n: 'Mallory', p: PASSWORD });
  expect(again.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'token' });

  // The new admin signs in with the password they chose and sets up the business.
  const login = await s.gql(
    'mutation($e: String!, $p: String!) { login(input: { email: $e, password: $p }) { accessToken } }',
    { e: 'owner@salon-neu.test', p: PASSWORD },
  );
  expect(login.errors).toBeUndefined();
  const me = await s.gql('{ me { roles company { slug timezone } } }', {}, { token: owner });
  expect(me.data?.me).toMatchObject({
    roles: ['ADMIN'],
    company: { slug: 'salon-neu', timezone: 'Europe/Vienna' },
  });

  const staff = await s.gql(
    'mutation { createStaff(input: { name: "Sina Stylist" }) { id } }',
    {},
    { token: owner },
  );
  expect(staff.errors).toBeUndefined();
  const staffId = staff.data!.createStaff.id as string;
  const service = await s.gql(
    'mutation($st: [ID!]) { saveService(input: { name: "Schnitt", durationMinutes: 30, priceCents: 3000, staffIds: $st }) { id } }',
    { st: [staffId] },
    { token: owner },
  );
  expect(service.errors).toBeUndefined();
  for (const weekday of [1, 2, 3, 4, 5, 6, 7]) {
    const wh = await s.gql(
      'mutation($st: ID!, $d: Int!) { createWorkingHour(input: { staffId: $st, weekday: $d, startsAt: "09:00", endsAt: "17:00" }) { id } }',
      { st: staffId, d: weekday },
      { token: owner },
    );
    expect(wh.errors).toBeUndefined();
  }
  const startsAt = DateTime.now()
    .setZone('Europe/Vienna')
    .plus({ days: 3 })
    .set({ hour: 10, minute: 0, second: 0, millisecond: 0 })
    .toUTC()
    .toISO();
  const booked = await s.gql(
    `mutation($input: BookAppointmentInput!) { bookAppointment(input: $input) { appointment { id status } customerCreated } }`,
    {
      input: {
        serviceId: service.data!.saveService.id,
        staffId,
        startsAt,
        customer: { phone: '+43 660 1234567', name: 'Erste Kundin' },
        source: 'WEB',
      },
    },
    { token: owner },
  );
  expect(booked.errors).toBeUndefined();
  expect(booked.data?.bookAppointment).toMatchObject({
    appointment: { status: 'SCHEDULED' },
    customerCreated: true,
  });

  const log = await s.t
    .superuser('activity_logs')
    .where({ company_id: company.id })
    .orderBy('created_at')
    .pluck('action');
  expect(log).toEqual(
    expect.arrayContaining(['company.create', 'user.accept_invitation', 'auth.login']),
  );

  // The admin invites a manager, who joins the same way; a manager may invite only staff.
  const invited = await s.gql(
    INVITE,
    { input: { email: 'manager@salon-neu.test', roles: ['manager'] } },
    { token: owner },
  );
  expect(invited.errors).toBeUndefined();
  const joined = await s.gql(ACCEPT, {
    t: invited.data!.inviteUser.token,
    n: 'Max Manager',
    p: PASSWORD,
  });
  expect(joined.errors).toBeUndefined();
  const manager = joined.data!.acceptInvitation.accessToken as string;
  const escalate = await s.gql(
    INVITE,
    { input: { email: 'boss@salon-neu.test', roles: ['admin'] } },
    { token: manager },
  );
  expect(escalate.errors?.[0].extensions?.code).toBe('FORBIDDEN');
  const staffInvite = await s.gql(
    INVITE,
    { input: { email: 'sina@salon-neu.test', roles: ['staff'] } },
    { token: manager },
  );
  expect(staffInvite.errors).toBeUndefined();
  const dup = await s.gql(
    INVITE,
    { input: { email: 'manager@salon-neu.test', roles: ['staff'] } },
    { token: owner },
  );
  expect(dup.errors?.[0].extensions).toMatchObject({ code: 'CONFLICT', field: 'input.email' });
});

test('expired, revoked, forged and malformed invitations are refused with the token field', async () => {
  const created = await s.gql(CREATE, { input: input('salon-zwei') }, { token: root });
  const { company, invitation } = created.data!.createCompany;
  await s.t
    .superuser('user_invitations')
    .where({ id: invitation.id })
    .update({ expires_at: new Date(Date.now() - 1000) });
  const expired = await s.gql(ACCEPT, { t: invitation.token, n: 'Late', p: PASSWORD });
  expect(expired.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'token' });

  // A new invitation to the same address replaces (revokes) the open one.
  const first = await s.gql(
    INVITE,
    { input: { email: 'x@salon-zwei.test', roles: ['manager'] } },
    { token: root, headers: { 'x-company-id': company.id } },
  );
  const second = await s.gql(
    INVITE,
    { input: { email: 'x@salon-zwei.test', roles: ['manager'] } },
    { token: root, headers: { 'x-company-id': company.id } },
  );
  expect(second.errors).toBeUndefined();
  const revoked = await s.gql(ACCEPT, { t: first.data!.inviteUser.token, n: 'X', p: PASSWORD });
  expect(revoked.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'token' });

  const forged = `inv_${company.id}_${'A'.repeat(43)}`;
  const f = await s.gql(ACCEPT, { t: forged, n: 'X', p: PASSWORD });
  expect(f.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'token' });
  // A real token of company B's shape pointed at company A finds nothing either.
  const moved = second.data!.inviteUser.token.replace(company.id, w.a.id);
  const m = await s.gql(ACCEPT, { t: moved, n: 'X', p: PASSWORD });
  expect(m.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'token' });
  for (const t of ['', 'inv_nope', 'x'.repeat(5000)]) {
    const bad = await s.gql(ACCEPT, { t, n: 'X', p: PASSWORD });
    expect(bad.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'token' });
  }
  const ok = await s.gql(ACCEPT, { t: second.data!.inviteUser.token, n: 'X', p: PASSWORD });
  expect(ok.errors).toBeUndefined();
});

test('only a super admin creates companies; bad input names its field', async () => {
  const admin = await w.login(w.a.users.admin.email);
  const refused = await s.gql(CREATE, { input: input('nope-co') }, { token: admin });
  expect(refused.errors?.[0].extensions?.code).toBe('FORBIDDEN');
  const anon = await s.gql(CREATE, { input: input('nope-co') });
  expect(anon.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');

  const taken = await s.gql(CREATE, { input: input('alpha') }, { token: root });
  expect(taken.errors?.[0].extensions).toMatchObject({ code: 'CONFLICT', field: 'input.slug' });
  const cases: Array<[Record<string, string>, string]> = [
    [{ slug: 'Bad Slug!' }, 'input.slug'],
    [{ timezone: 'Mars/Olympus' }, 'input.timezone'],
    [{ locale: 'german' }, 'input.locale'],
    [{ defaultRegion: 'DEU' }, 'input.defaultRegion'],
    [{ adminEmail: 'not-an-email' }, 'input.adminEmail'],
    [{ branchName: '  ' }, 'input.branchName'],
  ];
  for (const [patch, field] of cases) {
    const res = await s.gql(CREATE, { input: { ...input('fine-co'), ...patch } }, { token: root });
    expect(res.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
  }
  // Nothing half-written by the refused attempts.
  expect(await s.t.superuser('companies').where({ slug: 'fine-co' })).toEqual([]);
});
