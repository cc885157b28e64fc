import { startTestServer, type TestServer } from '../helpers/server';
import { createWorld, type World } from '../helpers/world';

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
