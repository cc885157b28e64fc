import 'reflect-metadata';
import { parse } from 'graphql';
import { buildAppSchema } from '../../src/graphql/schema';
import { actualCost, operationCost, rangeDays } from '../../src/graphql/limits/cost-model';

/**
 * The cost of representative operations, pinned: a schema or cost-model change that alters what a
 * partner is charged fails here and has to be updated (and documented in docs/api-limits.md).
 */
const schema = buildAppSchema();
const costOf = (query: string, variables: Record<string, unknown> = {}) =>
  operationCost(schema, parse(query), variables, undefined);

const APPOINTMENTS_PAGE = `query AppointmentsPage($first: Int!) {
  appointments(first: $first) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { id startsAt endsAt status customer { name phoneE164 } staff { name } service { name } }
  }
}`;

test.each([
  ['rateLimit only (free)', '{ rateLimit { remaining limit } }', {}, 0],
  ['me', '{ me { name roles } }', {}, 1],
  ['appointments page of 50', APPOINTMENTS_PAGE, { first: 50 }, 301],
  ['appointments page of 1', APPOINTMENTS_PAGE, { first: 1 }, 7],
  [
    'appointments page of 100 with edges',
    '{ appointments(first: 100) { edges { cursor node { id customer { name } } } } }',
    {},
    301,
  ],
  [
    'dashboard',
    '{ dashboard { upcomingToday callsToday appointmentsByStatus { status count } } }',
    {},
    11,
  ],
  [
    'nested connection multiplies',
    '{ customers(first: 10) { nodes { name notes(first: 10) { nodes { body } } } } }',
    {},
    121,
  ],
  ['node', '{ node(id: "x") { id } }', {}, 1],
  ['nodes by 3 ids', '{ nodes(ids: ["a", "b", "c"]) { id } }', {}, 3],
  [
    'availableSlots 14 days, one staff member: a page of 50 by default',
    '{ availableSlots(serviceId: "s", staffId: "t", from: "2026-12-01", to: "2026-12-14") { slots { startsAt staff { name } } } }',
    {},
    1 + 14 * 1 + 50 * 2,
  ],
  [
    'availableSlots 31 days, whole team, 5 min step: still a page of 50',
    '{ availableSlots(serviceId: "s", from: "2026-12-01", to: "2026-12-31", stepMinutes: 5) { slots { startsAt } } }',
    {},
    1 + 31 * 5 + 50 * 1,
  ],
  [
    'availableSlots a week, first: 100, with cursors and pageInfo',
    '{ availableSlots(serviceId: "s", from: "2026-12-01", to: "2026-12-07", first: 100) { pageInfo { hasNextPage endCursor } slots { cursor startsAt staff { name } } } }',
    {},
    1 + 7 * 5 + 100 * 3,
  ],
  [
    'availableSlots one day, one staff member, 4-hour steps: at most 3 slots can exist',
    '{ availableSlots(serviceId: "s", staffId: "t", from: "2026-12-01", to: "2026-12-01", stepMinutes: 240, first: 100) { slots { startsAt } } }',
    {},
    1 + 1 + 3 * 1,
  ],
  ['a mutation', 'mutation { logout }', {}, 10],
])('%s', (_name, query, variables, expected) => {
  expect(costOf(query, variables)).toBe(expected);
});

test('page sizes out of range are refused with the field named, before anything runs', () => {
  expect(() => costOf('{ appointments(first: 1000000) { nodes { id } } }')).toThrow(
    expect.objectContaining({ code: 'BAD_USER_INPUT', field: 'first' }),
  );
  expect(() => costOf('{ customers(last: 0) { nodes { id } } }')).toThrow(
    expect.objectContaining({ code: 'BAD_USER_INPUT', field: 'last' }),
  );
  expect(() =>
    costOf(
      '{ availableSlots(serviceId: "s", from: "a", to: "b", first: 101) { slots { start } } }',
    ),
  ).toThrow(expect.objectContaining({ code: 'BAD_USER_INPUT', field: 'first' }));
});

test('a connection without first or last is priced as a full page', () => {
  expect(costOf('{ appointments { nodes { id } } }')).toBe(101);
});

test('range days: local dates include their last day; unreadable ranges count as the maximum', () => {
  expect(rangeDays('2026-12-01', '2026-12-01')).toBe(1);
  expect(rangeDays('2026-12-01', '2026-12-31')).toBe(31);
  expect(rangeDays('2026-12-01T00:00:00Z', '2026-12-03T00:00:00Z')).toBe(2);
  expect(rangeDays('garbage', '2026-12-03')).toBe(31);
  expect(rangeDays('2026-01-01', '2026-12-31')).toBe(31);
});

test('the actual cost counts the objects answered, never more than requested', () => {
  const data = {
    appointments: {
      nodes: [
        { id: 1, customer: { name: 'a' } },
        { id: 2, customer: null },
      ],
    },
  };
  expect(actualCost(data, 301, 'query')).toBe(4);
  expect(actualCost(data, 3, 'query')).toBe(3);
  expect(actualCost({ logout: true }, 10, 'mutation')).toBe(10);
});
