import fc from 'fast-check';
import { startTestServer, type GraphQLResult, type TestServer } from '../helpers/server';
import { createWorld, globalId, type World } from '../helpers/world';

/**
 * Bad input over real HTTP: NUL bytes, unpaired surrogates, control characters and overlong text
 * in every kind of text input, impossible regions and time zones, and times outside the window
 * (a year back to five years ahead, at most a day long). Each is a BAD_USER_INPUT naming the
 * field; nothing is stored; no input produces a 5xx or INTERNAL.
 */
let s: TestServer;
let w: World;
let admin: string;
let superAdmin: string;
let ids: Record<string, string>;

beforeAll(async () => {
  s = await startTestServer();
  w = await createWorld(s);
  admin = await w.login(w.a.users.admin.email);
  superAdmin = await w.login(w.superAdmin.email);
  const cb = await s.gql(
    'mutation { createCallbackRequest(input: { phone: "030 5550101", name: "Caller" }) { id } }',
    {},
    { token: admin },
  );
  ids = {
    customer: globalId('Customer', w.a.id, w.a.customerId),
    staff: globalId('Staff', w.a.id, w.a.staffId),
    service: globalId('Service', w.a.id, w.a.serviceId),
    branch: globalId('Branch', w.a.id, w.a.branchId),
    appointment: globalId('Appointment', w.a.id, w.a.appointmentId),
    user: globalId('User', w.a.id, w.a.users.staff.id),
    callback: (cb.data?.createCallbackRequest as { id: string }).id,
  };
});
afterAll(async () => s.close());

function expectNoServerError(res: GraphQLResult) {
  expect(res.status).toBeLessThan(500);
  for (const e of res.errors ?? []) {
    expect(e.extensions?.code).not.toBe('INTERNAL');
    expect(e.extensions?.code).not.toBe('INTERNAL_SERVER_ERROR');
    expect(JSON.stringify(e)).not.toMatch(/stacktrace|select |insert into|invalid byte sequence/i);
  }
}

function expectBadInput(res: GraphQLResult, field: string | RegExp) {
  expectNoServerError(res);
  // Nothing done: no data at all (a query), or the refused mutation field is null.
  for (const value of Object.values(res.data ?? {})) expect(value).toBeNull();
  expect(res.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
  if (typeof field === 'string') expect(res.errors?.[0].extensions?.field).toBe(field);
  else expect(res.errors?.[0].extensions?.field).toMatch(field);
}

const count = async (table: string, where: Record<string, unknown> = {}) =>
  Number((await s.t.superuser(table).where(where).count({ n: '*' }))[0].n);

describe('text at the edge', () => {
  test('createCustomer(name: "a\\u0000b") is BAD_USER_INPUT on input.name, nothing stored', async () => {
    const before = await count('customers');
    // In the query text and as a variable.
    expectBadInput(
      await s.gql(
        'mutation { createCustomer(input: { name: "a\\u0000b" }) { id } }',
        {},
        {
          token: admin,
        },
      ),
      'input.name',
    );
    expectBadInput(
      await s.gql(
        'mutation($n: String!) { createCustomer(input: { name: $n }) { id } }',
        {
          n: 'a\u0000b',
        },
        { token: admin },
      ),
      'input.name',
    );
    expect(await count('customers')).toBe(before);
  });

  test('a NUL in a search filter is BAD_USER_INPUT on filter.search', async () => {
    for (const list of ['customers', 'staffMembers', 'services', 'branches']) {
      expectBadInput(
        await s.gql(
          `query($q: String) { ${list}(first: 5, filter: { search: $q }) { totalCount } }`,
          {
            q: 'a\u0000b',
          },
          { token: admin },
        ),
        'filter.search',
      );
    }
  });

  test('unpaired surrogates are refused everywhere, even where line breaks are allowed', async () => {
    for (const bad of ['a\ud800b', '\udc00', 'x\ud83d']) {
      expectBadInput(
        await s.gql(
          'mutation($n: String!) { createStaff(input: { name: $n }) { id } }',
          { n: bad },
          {
            token: admin,
          },
        ),
        'input.name',
      );
      expectBadInput(
        await s.gql(
          'mutation($c: ID!, $b: String!) { addCustomerNote(customerId: $c, body: $b) { id } }',
          {
            c: ids.customer,
            b: bad,
          },
          { token: admin },
        ),
        'body',
      );
    }
    // A proper pair is fine.
    const ok = await s.gql(
      'mutation($n: String!) { createStaff(input: { name: $n }) { name } }',
      {
        n: 'Smiley 😀',
      },
      { token: admin },
    );
    expect(ok.data?.createStaff.name).toBe('Smiley 😀');
  });

  test('control characters are refused in single-line fields; notes keep their line breaks', async () => {
    for (const bad of ['a\u0007b', 'tab\there', 'line\nbreak', 'esc\u001b[31m', 'sep\u2028x']) {
      expectBadInput(
        await s.gql(
          'mutation($n: String!) { createCustomer(input: { name: $n }) { id } }',
          { n: bad },
          {
            token: admin,
          },
        ),
        'input.name',
      );
    }
    expectBadInput(
      await s.gql(
        'mutation($c: ID!, $b: String!) { addCustomerNote(customerId: $c, body: $b) { id } }',
        {
          c: ids.customer,
          b: 'bell\u0007',
        },
        { token: admin },
      ),
      'body',
    );
    const ok = await s.gql(
      'mutation($c: ID!, $b: String!) { addCustomerNote(customerId: $c, body: $b) { body } }',
      { c: ids.customer, b: 'first line\nsecond line\ttabbed' },
      { token: admin },
    );
    expect(ok.data?.addCustomerNote.body).toBe('first line\nsecond line\ttabbed');
  });

  test('length limits: 1,000 for single-line fields, 10,000 for notes', async () => {
    expectBadInput(
      await s.gql(
        'query($q: String) { customers(first: 5, filter: { search: $q }) { totalCount } }',
        {
          q: 'x'.repeat(1001),
        },
        { token: admin },
      ),
      'filter.search',
    );
    expectBadInput(
      await s.gql(
        'mutation($c: ID!, $b: String!) { addCustomerNote(customerId: $c, body: $b) { id } }',
        {
          c: ids.customer,
          b: 'x'.repeat(10_001),
        },
        { token: admin },
      ),
      'body',
    );
    expectBadInput(
      await s.gql(
        'query($ids: [ID!]!) { nodes(ids: $ids) { id } }',
        { ids: [ids.customer, 'y'.repeat(1001)] },
        {
          token: admin,
        },
      ),
      'ids.1',
    );
  });

  test('strings inside JSON arguments are checked too', async () => {
    expectBadInput(
      await s.gql(
        'mutation($c: JSONObject!) { savePolicy(input: { policyType: "booking", config: $c }) { id } }',
        { c: { minNoticeHours: 1, horizonDays: 30, note: 'a\ud800' } },
        { token: admin },
      ),
      'input.config',
    );
  });
});

describe('regions and time zones', () => {
  test('updateCompany(defaultRegion: "XX") is refused; DE and de are DE', async () => {
    for (const bad of ['XX', 'ZZ', 'D', 'DEU', '']) {
      expectBadInput(
        await s.gql(
          'mutation($r: String) { updateCompany(input: { defaultRegion: $r }) { id } }',
          { r: bad },
          {
            token: admin,
          },
        ),
        'input.defaultRegion',
      );
    }
    const ok = await s.gql(
      'mutation { updateCompany(input: { defaultRegion: "at" }) { defaultRegion } }',
      {},
      {
        token: admin,
      },
    );
    expect(ok.data?.updateCompany.defaultRegion).toBe('AT');
    await s.gql(
      'mutation { updateCompany(input: { defaultRegion: "DE" }) { id } }',
      {},
      { token: admin },
    );
    expect((await s.t.superuser('companies').where({ id: w.a.id }).first()).default_region).toBe(
      'DE',
    );
  });

  test('createBranch(timezone: "") and unknown zones are refused; names are canonical', async () => {
    const before = await count('branches');
    for (const bad of ['', ' ', 'Mars/Olympus', 'GMT+2', '+02:00', 'Europe/Berlin\u0000']) {
      expectBadInput(
        await s.gql(
          'mutation($z: String) { createBranch(input: { name: "Zoned", timezone: $z }) { id } }',
          { z: bad },
          {
            token: admin,
          },
        ),
        'input.timezone',
      );
      expectBadInput(
        await s.gql(
          'mutation($z: String) { updateCompany(input: { timezone: $z }) { id } }',
          { z: bad },
          {
            token: admin,
          },
        ),
        'input.timezone',
      );
    }
    expect(await count('branches')).toBe(before);
    const ok = await s.gql(
      'mutation { createBranch(input: { name: "Vienna", timezone: "europe/vienna" }) { timezone } }',
      {},
      { token: admin },
    );
    expect(ok.data?.createBranch.timezone).toBe('Europe/Vienna');
    const inherit = await s.gql(
      'mutation { createBranch(input: { name: "Inherits", timezone: null }) { timezone } }',
      {},
      {
        token: admin,
      },
    );
    expect(inherit.errors).toBeUndefined();
  });
});

describe('times outside the window', () => {
  const years = (n: number) => new Date(Date.now() + n * 366 * 86400_000).toISOString();

  test('bookAppointment from year 0000 or 9999, or six years ahead, is refused; nothing stored', async () => {
    const before = await count('appointments');
    for (const startsAt of ['0000-01-01T00:00:00Z', '9999-12-31T00:00:00Z', years(6), years(-2)]) {
      const res = await s.gql(
        'mutation($i: BookAppointmentInput!) { bookAppointment(input: $i) { appointment { id } } }',
        {
          i: {
            serviceId: ids.service,
            staffId: ids.staff,
            startsAt,
            customerId: ids.customer,
            override: { reason: 'testing the window' },
          },
        },
        { token: admin },
      );
      expectBadInput(res, /startsAt$/);
    }
    expect(await count('appointments')).toBe(before);
  });

  test('rescheduleAppointment beyond five years is refused', async () => {
    expectBadInput(
      await s.gql(
        'mutation($id: ID!, $t: DateTime!) { rescheduleAppointment(id: $id, input: { startsAt: $t }) { appointment { id } } }',
        {
          id: ids.appointment,
          t: years(6),
        },
        { token: admin },
      ),
      /startsAt$/,
    );
  });

  test('availableSlots over a range in 9999 is refused', async () => {
    expectBadInput(
      await s.gql(
        'query($s: ID!) { availableSlots(serviceId: $s, from: "9999-12-01", to: "9999-12-02") { slots { startsAt } } }',
        {
          s: ids.service,
        },
        { token: admin },
      ),
      /^(from|to)$/,
    );
  });

  test('a callback window of two days or in year 9999 is refused', async () => {
    const from = new Date(Date.now() + 86400_000);
    for (const window of [
      { from: from.toISOString(), to: new Date(from.getTime() + 2 * 86400_000).toISOString() },
      { from: '9999-01-01T09:00:00Z', to: '9999-01-01T10:00:00Z' },
    ]) {
      expectBadInput(
        await s.gql(
          'mutation($w: [PreferredTimeInput!]) { createCallbackRequest(input: { phone: "030 5550102", preferredTimes: $w }) { id } }',
          {
            w: [window],
          },
          { token: admin },
        ),
        /preferredTimes/,
      );
    }
  });
});

/**
 * A text slot for the property below: an operation with one String variable `$v`, and whether the
 * slot is single-line (control characters refused).
 */
interface Slot {
  name: string;
  query: string;
  vars?: () => Record<string, unknown>;
  singleLine: boolean;
  token?: () => string;
  runs?: number;
}

const SLOTS: Slot[] = [
  {
    name: 'customer name',
    query: 'mutation($v: String!) { createCustomer(input: { name: $v }) { id name } }',
    singleLine: true,
  },
  {
    name: 'customer phone',
    query:
      'mutation($v: String) { createCustomer(input: { name: "Phone Test", phone: $v }) { id } }',
    singleLine: true,
  },
  {
    name: 'customer language',
    query:
      'mutation($v: String, $id: ID!) { updateCustomer(input: { id: $id, preferredLanguage: $v }) { id } }',
    vars: () => ({ id: ids.customer }),
    singleLine: true,
  },
  {
    name: 'customer search',
    query: 'query($v: String) { customers(first: 5, filter: { search: $v }) { totalCount } }',
    singleLine: true,
  },
  {
    name: 'customer note',
    query: 'mutation($v: String!, $c: ID!) { addCustomerNote(customerId: $c, body: $v) { id } }',
    vars: () => ({ c: ids.customer }),
    singleLine: false,
  },
  {
    name: 'staff name',
    query: 'mutation($v: String!) { createStaff(input: { name: $v }) { id } }',
    singleLine: true,
  },
  {
    name: 'staff colour',
    query: 'mutation($v: String, $id: ID!) { updateStaff(input: { id: $id, color: $v }) { id } }',
    vars: () => ({ id: ids.staff }),
    singleLine: true,
  },
  {
    name: 'staff search',
    query: 'query($v: String) { staffMembers(first: 5, filter: { search: $v }) { totalCount } }',
    singleLine: true,
  },
  {
    name: 'service name',
    query: 'mutation($v: String) { saveService(input: { name: $v, durationMinutes: 30 }) { id } }',
    singleLine: true,
  },
  {
    name: 'service description',
    query:
      'mutation($v: String, $id: ID) { saveService(input: { id: $id, description: $v }) { id } }',
    vars: () => ({ id: ids.service }),
    singleLine: false,
  },
  {
    name: 'service category',
    query: 'mutation($v: String) { saveServiceCategory(input: { name: $v }) { id } }',
    singleLine: true,
  },
  {
    name: 'branch name',
    query: 'mutation($v: String!) { createBranch(input: { name: $v }) { id } }',
    singleLine: true,
  },
  {
    name: 'branch timezone',
    query: 'mutation($v: String) { updateBranch(input: { id: "BRANCH", timezone: $v }) { id } }'
      .replace('"BRANCH"', '$id')
      .replace('($v: String)', '($v: String, $id: ID!)'),
    vars: () => ({ id: ids.branch }),
    singleLine: true,
  },
  {
    name: 'branch address',
    query:
      'mutation($v: String, $id: ID!) { updateBranch(input: { id: $id, address: $v }) { id } }',
    vars: () => ({ id: ids.branch }),
    singleLine: false,
  },
  {
    name: 'company name',
    query: 'mutation($v: String) { updateCompany(input: { name: $v }) { id } }',
    singleLine: true,
  },
  {
    name: 'company region',
    query: 'mutation($v: String) { updateCompany(input: { defaultRegion: $v }) { id } }',
    singleLine: true,
  },
  {
    name: 'company timezone',
    query: 'mutation($v: String) { updateCompany(input: { timezone: $v }) { id } }',
    singleLine: true,
  },
  {
    name: 'callback reason',
    query:
      'mutation($v: String) { createCallbackRequest(input: { phone: "030 5550103", name: $v, reason: $v }) { id } }',
    singleLine: true,
  },
  {
    name: 'callback phone',
    query: 'mutation($v: String!) { createCallbackRequest(input: { phone: $v }) { id } }',
    singleLine: true,
  },
  {
    name: 'callback note',
    query: 'mutation($v: String, $id: ID!) { markCallbackContacted(id: $id, note: $v) { id } }',
    vars: () => ({ id: ids.callback }),
    singleLine: false,
  },
  {
    name: 'callback free-text time',
    query:
      'mutation($v: String!) { createCallbackRequest(input: { phone: "030 5550104", preferredTimes: [] , reason: $v }) { id } }',
    singleLine: false,
  },
  {
    name: 'policy type',
    query: 'mutation($v: String!) { savePolicy(input: { policyType: $v, config: {} }) { id } }',
    singleLine: true,
  },
  {
    name: 'policy config',
    query:
      'mutation($v: String!) { savePolicy(input: { policyType: "booking", config: { minNoticeHours: 1, horizonDays: 60, label: $v } }) { id } }',
    singleLine: false,
  },
  {
    name: 'user name',
    query: 'mutation($v: String, $id: ID!) { updateUser(input: { id: $id, name: $v }) { id } }',
    vars: () => ({ id: ids.user }),
    singleLine: true,
  },
  {
    name: 'api token name',
    query:
      'mutation($v: String!) { createApiToken(input: { name: $v, scopes: ["customers:read"] }) { token } }',
    singleLine: true,
  },
  {
    name: 'phone number label',
    query:
      'mutation($v: String) { savePhoneNumber(input: { number: "+49 30 9999999", label: $v }) { id } }',
    singleLine: true,
  },
  {
    name: 'call outcome filter',
    query: 'query($v: String) { calls(first: 5, filter: { outcome: $v }) { totalCount } }',
    singleLine: true,
  },
  {
    name: 'activity filter',
    query: 'query($v: String) { activityLogs(first: 5, filter: { action: $v }) { totalCount } }',
    singleLine: true,
  },
  { name: 'node id', query: 'query($v: ID!) { node(id: $v) { id } }', singleLine: true },
  {
    name: 'cursor',
    query: 'query($v: String) { customers(first: 5, after: $v) { totalCount } }',
    singleLine: true,
  },
  {
    name: 'availability range',
    query:
      'query($v: String!, $s: ID!) { availableSlots(serviceId: $s, from: $v, to: $v) { slots { startsAt } } }',
    vars: () => ({ s: ids.service }),
    singleLine: true,
  },
  {
    name: 'dashboard date',
    query: 'query($v: String) { dashboard(date: $v) { callsToday } }',
    singleLine: true,
  },
  {
    name: 'webhook status filter',
    query: 'query($v: String) { webhookEvents(first: 5, status: $v) { edges { cursor } } }',
    singleLine: true,
  },
  {
    name: 'working hours',
    query:
      'mutation($v: String!, $s: ID!) { createWorkingHour(input: { staffId: $s, weekday: 1, startsAt: $v, endsAt: "18:00", validFrom: $v }) { id } }',
    vars: () => ({ s: ids.staff }),
    singleLine: true,
  },
  {
    name: 'booking customer',
    query:
      'mutation($v: String, $s: ID!, $t: DateTime!) { bookAppointment(input: { serviceId: $s, startsAt: $t, customer: { phone: "0170 1111111", name: $v }, notes: $v }) { appointment { id } } }',
    vars: () => ({ s: ids.service, t: new Date(Date.now() + 20 * 86400_000).toISOString() }),
    singleLine: true,
  },
  {
    name: 'cancel reason',
    query:
      'mutation($v: String!, $id: ID!) { cancelAppointment(id: $id, input: { reason: $v, override: { reason: $v } }) { late } }',
    vars: () => ({ id: ids.appointment }),
    singleLine: false,
  },
  {
    name: 'refresh token',
    query: 'mutation($v: String!) { refreshToken(refreshToken: $v) { accessToken } }',
    singleLine: true,
    token: () => '',
  },
  {
    name: 'login',
    query:
      'mutation($v: String!) { login(input: { email: $v, password: $v, companySlug: $v }) { accessToken } }',
    singleLine: true,
    token: () => '',
    runs: 20,
  },
  {
    name: 'platform admin name',
    query:
      'mutation($v: String!) { createPlatformAdmin(input: { email: "ops@platform.test", name: $v, password: "short" }) { id } }',
    singleLine: true,
    token: () => superAdmin,
    runs: 20,
  },
];

// Characters that have broken text handling before, plus any UTF-16 code unit (lone surrogates
// included) and any code point. U+FFFD is left out so the storage check below can look for it.
const special = fc.constantFrom(
  '\u0000',
  '\ud800',
  '\udbff',
  '\udc00',
  '\udfff',
  '\u0001',
  '\u0007',
  '\u001b',
  '\u007f',
  '\u0085',
  '\n',
  '\r',
  '\t',
  '\u2028',
  '\u202e',
  '\ufeff',
  '%',
  '_',
  '\\',
  "'",
  '"',
  '`',
  ';',
  '--',
  '/*',
  'a',
  'Z',
  '7',
  ' ',
  '+',
  ':',
  '-',
  '/',
  '@',
  'é',
  'ß',
  '😀',
  '\u00a0',
);
const unit = fc.oneof(
  { weight: 4, arbitrary: special },
  {
    weight: 2,
    arbitrary: fc
      .integer({ min: 0, max: 0xffff })
      .filter((c) => c !== 0xfffd)
      .map((c) => String.fromCharCode(c)),
  },
  {
    weight: 1,
    arbitrary: fc
      .string({ unit: 'binary', minLength: 1, maxLength: 1 })
      .filter((c) => c !== '\ufffd'),
  },
);
const arbitraryText = fc.oneof(
  { weight: 12, arbitrary: fc.string({ unit, maxLength: 24 }) },
  { weight: 1, arbitrary: fc.string({ unit, minLength: 995, maxLength: 1010 }) },
);

const LONE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

describe('property: no text input produces a 5xx or INTERNAL, or stores what it must not', () => {
  test.each(SLOTS.map((slot) => [slot.name, slot] as const))('%s', async (_name, slot) => {
    await fc.assert(
      fc.asyncProperty(arbitraryText, async (v) => {
        const token = slot.token ? slot.token() : admin;
        const res = await s.gql(
          slot.query,
          { ...(slot.vars?.() ?? {}), v },
          token ? { token } : {},
        );
        expectNoServerError(res);
        const refused =
          v.includes('\u0000') || LONE.test(v) || (slot.singleLine && CONTROL.test(v));
        if (refused) {
          expect(res.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
          // Nothing done: no data, or the refused field is null.
          for (const value of Object.values(res.data ?? {})) expect(value).toBeNull();
        }
      }),
      { numRuns: slot.runs ?? 40 },
    );
  });

  test('nothing stored holds a replacement character (a lone surrogate converted on the way in)', async () => {
    const columns: [string, string][] = [
      ['customers', 'name'],
      ['customers', 'preferred_language'],
      ['customer_notes', 'body'],
      ['staff', 'name'],
      ['services', 'name'],
      ['services', 'description'],
      ['service_categories', 'name'],
      ['branches', 'name'],
      ['branches', 'address'],
      ['companies', 'name'],
      ['callback_requests', 'name'],
      ['callback_requests', 'reason'],
      ['users', 'name'],
      ['api_tokens', 'name'],
      ['phone_numbers', 'label'],
    ];
    for (const [table, column] of columns) {
      const { rows } = await s.t.superuser.raw<{ rows: { n: string }[] }>(
        `select count(*) as n from ${table} where ${column} like '%' || chr(65533) || '%'`,
      );
      expect([table, column, Number(rows[0].n)]).toEqual([table, column, 0]);
    }
  });
});
