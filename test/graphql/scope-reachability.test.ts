import 'reflect-metadata';
import { allow } from 'graphql-shield';
import type { IOptions, IRuleTypeMap, ShieldRule } from 'graphql-shield/typings/types';
import { SCOPES, type Scope } from '../../src/auth/access';
import type { Actor } from '../../src/context/actor';
import { buildAppSchema } from '../../src/graphql/schema';
import { createMetrics } from '../../src/observability/metrics';
import { PERMISSIONS } from '../../src/resolvers/permissions';
import { describeReach, reachableFields, type Reach } from '../helpers/reachability';
import { startTestServer, type TestServer } from '../helpers/server';
import { createWorld, globalId, type World } from '../helpers/world';

/**
 * API-token scopes hold through relations. For every scope, the fields a token holding only that
 * scope can reach from Query and Mutation are computed from the shield rules (test/helpers/
 * reachability.ts) and pinned below, so any change in what a scope exposes shows up here as a
 * diff to review. Then the same boundaries over real HTTP.
 *
 * The pin lists, per scope, what that scope adds to a token without scopes (BASE); connection,
 * edge and page-info types are left out (they are reachable exactly when their nodes are).
 */

const BASE: Record<string, string> = {
  AuthPayload: 'accessToken accessTokenExpiresAt refreshToken refreshTokenExpiresAt',
  Company: 'createdAt currency defaultRegion id name slug timezone',
  Mutation: 'acceptInvitation login logout refreshToken',
  Query: 'company me node nodes rateLimit',
  RateLimit: 'cost limit maxOperationCost remaining resetAt scope used windowSeconds',
  Viewer: 'actorType company email name roles scopes user',
};

const BY_SCOPE: Record<Scope, Record<string, string>> = {
  'appointments:read': {
    Appointment:
      'branch calcomBookingUid cancellationReason cancelledAt cancelledBy confirmedAt createdAt endsAt id notes priceCents rescheduleCount rescheduledFrom service source staff startsAt status',
    Availability: 'bufferMinutes durationMinutes earliestStart latestStart pageInfo slots timeZone',
    AvailableSlot: 'cursor endsAt staff start startsAt',
    Branch: 'address archivedAt createdAt id name phoneE164 timezone',
    Query: 'appointments availableSlots',
    Service:
      'archivedAt branch bufferMinutes category currency description durationMinutes id name priceCents',
    ServiceCategory: 'archivedAt description id name sortOrder',
    Staff: 'archivedAt branch color createdAt id name',
  },
  'appointments:write': {
    Appointment:
      'branch calcomBookingUid cancellationReason cancelledAt cancelledBy confirmedAt createdAt endsAt id notes priceCents rescheduleCount rescheduledFrom service source staff startsAt status',
    BookAppointmentPayload: 'appointment customerCreated overriddenRules',
    Branch: 'address archivedAt createdAt id name phoneE164 timezone',
    CancelPayload: 'appointment feeCents late overriddenRules',
    Mutation:
      'bookAppointment cancelAppointment completeAppointment confirmAppointment markNoShow rescheduleAppointment',
    ReschedulePayload: 'appointment overriddenRules previous',
    Service:
      'archivedAt branch bufferMinutes category currency description durationMinutes id name priceCents',
    ServiceCategory: 'archivedAt description id name sortOrder',
    Staff: 'archivedAt branch color createdAt id name',
  },
  'customers:read': {
    Customer: 'archivedAt createdAt email id name notes phoneE164 preferredLanguage',
    CustomerNote: 'body createdAt customer id',
    Query: 'customers',
  },
  'customers:write': {
    Customer: 'archivedAt createdAt email id name phoneE164 preferredLanguage',
    CustomerNote: 'body createdAt customer id',
    Mutation: 'addCustomerNote archiveCustomer createCustomer deleteCustomerNote updateCustomer',
  },
  'catalog:read': {
    Branch: 'address archivedAt createdAt id name phoneE164 timezone',
    Query: 'branches serviceCategories services staffMembers workingHours',
    Service:
      'archivedAt branch bufferMinutes category currency description durationMinutes id name priceCents',
    ServiceCategory: 'archivedAt description id name sortOrder',
    Staff: 'archivedAt branch color createdAt email id name phoneE164',
    WorkingHour: 'branch endsAt id staff startsAt validFrom validUntil weekday',
  },
  'catalog:write': {
    Branch: 'address archivedAt createdAt id name phoneE164 timezone',
    Mutation:
      'archiveBranch archiveService archiveServiceCategory archiveStaff createBranch createStaff createWorkingHour deleteWorkingHour saveService saveServiceCategory updateBranch updateStaff',
    Service:
      'archivedAt branch bufferMinutes category currency description durationMinutes id name priceCents',
    ServiceCategory: 'archivedAt description id name sortOrder',
    Staff: 'archivedAt branch color createdAt id name',
    WorkingHour: 'branch endsAt id staff startsAt validFrom validUntil weekday',
  },
  'calls:read': {
    Call: 'callSuccessful createdAt direction disconnectionReason durationMs endedAt fromNumber functionCalls id outcome retellCallId sentiment startedAt status summary toNumber transcript',
    Query: 'calls',
    VoiceFunctionCall: 'createdAt errorCode functionName id latencyMs outcome replayed',
  },
  'callbacks:read': {
    Branch: 'address archivedAt createdAt id name phoneE164 timezone',
    CallbackRequest:
      'assignedStaff completedAt contactedAt createdAt dueAt id name phoneE164 preferredTimes priority reason resolution status',
    Query: 'callbackRequests',
    Staff: 'archivedAt branch color createdAt id name',
  },
  'callbacks:write': {
    Branch: 'address archivedAt createdAt id name phoneE164 timezone',
    CallbackRequest:
      'assignedStaff completedAt contactedAt createdAt dueAt id name phoneE164 preferredTimes priority reason resolution status',
    Mutation:
      'assignCallbackRequest completeCallbackRequest createCallbackRequest expireCallbackRequest markCallbackContacted',
    Staff: 'archivedAt branch color createdAt id name',
  },
  'policies:read': {
    Branch: 'address archivedAt createdAt id name phoneE164 timezone',
    PolicyConfiguration: 'active branch config id policyType service updatedAt',
    Query: 'policyConfigurations',
    Service:
      'archivedAt branch bufferMinutes category currency description durationMinutes id name priceCents',
    ServiceCategory: 'archivedAt description id name sortOrder',
  },
  'dashboard:read': {
    Dashboard:
      'appointmentsByStatus callBookingRate callsToday from openCallbackRequests to upcomingToday',
    Query: 'dashboard',
    StatusCount: 'count status',
  },
  'activity:read': {
    ActivityLog:
      'action actorId actorType createdAt details id reason requestId subjectId subjectType',
    Query: 'activityLogs',
  },
};

/** Personal data, and the only scopes that may reach it (write scopes see what they write). */
const PERSONAL: Record<string, Scope[]> = {
  'Staff.email': ['catalog:read'],
  'Staff.phoneE164': ['catalog:read'],
  'Customer.name': ['customers:read', 'customers:write'],
  'Customer.phoneE164': ['customers:read', 'customers:write'],
  'Customer.email': ['customers:read', 'customers:write'],
  'CustomerNote.body': ['customers:read', 'customers:write'],
  'Call.fromNumber': ['calls:read'],
  'Call.transcript': ['calls:read'],
  'User.email': [],
};

const COMPANY = '00000000-0000-4000-8000-0000000000c1';
const tokenActor = (scopes: readonly string[]): Actor => ({
  kind: 'api_token',
  tokenId: '00000000-0000-4000-8000-0000000000a1',
  companyId: COMPANY,
  scopes,
});

describe('reachability per scope, from the shield rules', () => {
  const schema = buildAppSchema();
  const reaches = new Map<string, Reach>();
  const reachOf = async (scopes: readonly string[]) => {
    const key = scopes.join(',');
    if (!reaches.has(key)) {
      reaches.set(key, await reachableFields(schema, PERMISSIONS, tokenActor(scopes), COMPANY));
    }
    return reaches.get(key)!;
  };

  test('a token without scopes reaches only who it is, its company and sign-in', async () => {
    expect(describeReach(await reachOf([]))).toEqual(BASE);
  });

  test('the pin covers every scope', () => {
    expect(Object.keys(BY_SCOPE).sort()).toEqual([...SCOPES].sort());
  });

  test.each([...SCOPES])('%s reaches exactly the pinned fields', async (scope) => {
    expect(describeReach(await reachOf([scope]), await reachOf([]))).toEqual(BY_SCOPE[scope]);
  });

  test.each(Object.entries(PERSONAL))('%s is reached only with %j', async (path, owners) => {
    const [typeName, field] = path.split('.');
    const reaching: string[] = [];
    for (const scope of SCOPES) {
      if ((await reachOf([scope]))[typeName]?.includes(field)) reaching.push(scope);
    }
    expect(reaching.sort()).toEqual([...owners].sort());
  });

  test('a booking that names its customer by phone needs customers:write as well', async () => {
    const options: IOptions = {
      debug: true,
      allowExternalErrors: true,
      fallbackRule: allow,
      hashFunction: ({ args }) => JSON.stringify(args ?? {}),
    };
    const metrics = createMetrics();
    const bookRule = (PERMISSIONS.Mutation as IRuleTypeMap).bookAppointment as ShieldRule;
    const decide = async (scopes: string[], input: Record<string, unknown>) => {
      const ctx = { ctx: { actor: tokenActor(scopes), companyId: COMPANY, deps: { metrics } } };
      const res = await bookRule.resolve(
        {},
        { input },
        { ...ctx, _shield: { cache: {} } } as never,
        {} as never,
        options,
      );
      return res === true ? 'OK' : res instanceof Error ? (res as { code?: string }).code : res;
    };
    const byPhone = { customer: { phone: '+4917000000001' } };
    const byId = { customerId: 'x' };
    expect(await decide(['appointments:write'], byId)).toBe('OK');
    expect(await decide(['appointments:write'], byPhone)).toBe('FORBIDDEN');
    expect(await decide(['appointments:write', 'customers:read'], byPhone)).toBe('FORBIDDEN');
    expect(await decide(['appointments:write', 'customers:write'], byPhone)).toBe('OK');
    expect(await decide(['customers:write'], byId)).toBe('FORBIDDEN');
  });
});

describe('over HTTP', () => {
  let s: TestServer;
  let w: World;
  let admin: string;
  const tokens: Record<string, string> = {};
  const tokenWith = async (...scopes: string[]) => {
    const key = scopes.join(',');
    if (!tokens[key]) {
      const res = await s.gql<{ createApiToken: { token: string } }>(
        'mutation($s: [String!]!) { createApiToken(input: { name: "partner", scopes: $s }) { token } }',
        { s: scopes },
        { token: admin },
      );
      if (!res.data) throw new Error(JSON.stringify(res.errors));
      tokens[key] = res.data.createApiToken.token;
    }
    return tokens[key];
  };
  const day = (n: number) => {
    const d = new Date(Date.now() + n * 86400_000);
    d.setUTCHours(10, 0, 0, 0);
    return d.toISOString();
  };

  beforeAll(async () => {
    s = await startTestServer();
    w = await createWorld(s);
    admin = await w.login(w.a.users.admin.email);
  });
  afterAll(async () => s.close());

  test('appointments:read cannot read staff e-mail or phone through Appointment.staff', async () => {
    const res = await s.gql(
      '{ appointments(first: 5) { nodes { id staff { name email phoneE164 } } } }',
      {},
      { token: await tokenWith('appointments:read') },
    );
    const staff = res.data?.appointments.nodes[0].staff;
    expect(staff).toEqual({ name: 'Stylist alpha', email: null, phoneE164: null });
    expect(res.errors?.map((e) => [e.path?.slice(-1)[0], e.extensions?.code]).sort()).toEqual([
      ['email', 'FORBIDDEN'],
      ['phoneE164', 'FORBIDDEN'],
    ]);
    // With catalog:read as well, the same query answers the e-mail.
    const both = await s.gql(
      '{ appointments(first: 5) { nodes { staff { email } } } }',
      {},
      { token: await tokenWith('appointments:read', 'catalog:read') },
    );
    expect(both.errors).toBeUndefined();
    expect(both.data?.appointments.nodes[0].staff.email).toBe('stylist@alpha.test');
  });

  test('appointments:read cannot reach staff e-mail through availableSlots either', async () => {
    const res = await s.gql(
      'query($s: ID!, $f: String!) { availableSlots(serviceId: $s, from: $f, to: $f) { slots { staff { name email } } } }',
      { s: globalId('Service', w.a.id, w.a.serviceId), f: day(5).slice(0, 10) },
      { token: await tokenWith('appointments:read') },
    );
    expect(res.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    expect(res.errors?.[0].path?.slice(-1)).toEqual(['email']);
  });

  test('appointments:read cannot read the customer; node() refuses types outside the scope', async () => {
    const token = await tokenWith('appointments:read');
    const res = await s.gql(
      '{ appointments(first: 5) { nodes { id customer { name } } } }',
      {},
      { token },
    );
    expect(res.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const node = await s.gql(
      'query($id: ID!) { node(id: $id) { ... on Staff { email } } }',
      { id: globalId('Staff', w.a.id, w.a.staffId) },
      { token },
    );
    expect(node.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const me = await s.gql('{ me { actorType user { email } } }', {}, { token });
    expect(me.data?.me).toEqual({ actorType: 'API_TOKEN', user: null });
  });

  test('bookAppointment with a new customer needs customers:write; by id it does not', async () => {
    const BOOK = `mutation($input: BookAppointmentInput!) {
      bookAppointment(input: $input) { appointment { id } customerCreated }
    }`;
    const base = {
      serviceId: globalId('Service', w.a.id, w.a.serviceId),
      staffId: globalId('Staff', w.a.id, w.a.staffId),
      source: 'WEB',
    };
    const phone = '+4917099887766';
    const denied = await s.gql(
      BOOK,
      { input: { ...base, startsAt: day(4), customer: { phone, name: 'New Caller' } } },
      { token: await tokenWith('appointments:write') },
    );
    expect(denied.errors?.[0].extensions).toMatchObject({
      code: 'FORBIDDEN',
      field: 'input.customer',
    });
    const created = await s.t
      .superuser('customers')
      .where({ company_id: w.a.id, phone_e164: phone });
    expect(created).toEqual([]);

    const byId = await s.gql(
      BOOK,
      {
        input: {
          ...base,
          startsAt: day(4),
          customerId: globalId('Customer', w.a.id, w.a.customerId),
        },
      },
      { token: await tokenWith('appointments:write') },
    );
    expect(byId.errors).toBeUndefined();
    expect(byId.data?.bookAppointment.customerCreated).toBe(false);

    const allowed = await s.gql(
      BOOK,
      {
        input: {
          ...base,
          startsAt: new Date(Date.parse(day(4)) + 3600_000).toISOString(),
          customer: { phone, name: 'New Caller' },
        },
      },
      { token: await tokenWith('appointments:write', 'customers:write') },
    );
    expect(allowed.errors).toBeUndefined();
    expect(allowed.data?.bookAppointment.customerCreated).toBe(true);
  });
});
