import { buildSchema } from 'graphql';
import { histogramByLabel } from '../../bench/http';
import { graphqlCheck } from '../../bench/load';
import { parseOptions } from '../../bench/options';
import { findPeerPageShape, peerPageQuery, type PeerPageShape } from '../../bench/peer-target';
import { evaluateTargets, type OpResult, type ScaleResult } from '../../bench/report';
import {
  compareRows,
  rowsFromOurs,
  rowsFromPeer,
  type PageRow,
  type SameRowsResult,
} from '../../bench/same-rows';
import { buildOperation, RECURSE } from '../../bench/schema-probe';
import { allocate, companyShares, defaultCompanies } from '../../bench/seed';
import { toGlobalId } from '../../src/graphql/global-id';

/** Fast checks of the benchmark's own logic (no database, no server). */

describe('seed shape', () => {
  test('the first company holds a fifth, the shares add up to one', () => {
    const shares = companyShares(100);
    expect(shares[0]).toBe(0.2);
    expect(shares.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 10);
    expect(shares[1]).toBeLessThan(0.2);
  });

  test('allocation is exact', () => {
    expect(allocate(117, companyShares(10)).reduce((a, b) => a + b, 0)).toBe(117);
    expect(allocate(117_000, companyShares(100))[0]).toBe(23_400);
  });

  test('companies grow with the scale, 10 to 100', () => {
    expect([1, 10, 100, 1000].map(defaultCompanies)).toEqual([10, 32, 100, 100]);
  });
});

describe('options', () => {
  test('argv wins over the environment; both forms of argv work', () => {
    const o = parseOptions(['--scales', '1,10', '--duration=3'], { BENCH_SCALES: '5' }, '/tmp/x');
    expect(o.scales).toEqual([1, 10]);
    expect(o.durationS).toBe(3);
    expect(parseOptions([], { BENCH_OPS: 'a,b' }, '/tmp/x').ops).toEqual(['a', 'b']);
  });

  test('bad values are refused', () => {
    expect(() => parseOptions(['--duration', '0'], {}, '/tmp/x')).toThrow(/duration/);
  });

  test('the peer runs unless --no-peer', () => {
    expect(parseOptions([], {}, '/tmp/x').peer).toBe(true);
    expect(parseOptions(['--no-peer'], {}, '/tmp/x').peer).toBe(false);
    expect(parseOptions([], { BENCH_NO_PEER: '1' }, '/tmp/x').peer).toBe(false);
  });
});

test('statements per request are read per route from the Prometheus text', () => {
  const text = [
    'app_db_statements_per_request_bucket{le="8",route="/graphql"} 20',
    'app_db_statements_per_request_sum{route="/graphql"} 140',
    'app_db_statements_per_request_count{route="/graphql"} 20',
    'app_db_statements_per_request_sum{route="/metrics"} 3',
    'app_db_statements_per_request_count{route="/metrics"} 2',
  ].join('\n');
  const byRoute = histogramByLabel(text, 'app_db_statements_per_request', 'route');
  expect(byRoute.get('/graphql')).toEqual({ sum: 140, count: 20 });
  expect(byRoute.get('/metrics')).toEqual({ sum: 3, count: 2 });
});

test('a GraphQL response with errors counts as an error', () => {
  expect(graphqlCheck(200, '{"data":{"x":1}}')).toBeNull();
  expect(
    graphqlCheck(200, '{"errors":[{"message":"no","extensions":{"code":"FORBIDDEN"}}]}'),
  ).toMatch(/FORBIDDEN: no/);
  expect(graphqlCheck(500, 'boom')).toMatch(/HTTP 500/);
});

describe('operations built from the schema at run time', () => {
  const schema = buildSchema(`
    scalar DateTime
    enum Source { PHONE WEB MANUAL }
    input CustomerIn { phone: String!, name: String, email: String }
    input BookIn { serviceId: ID!, staffId: ID, startsAt: DateTime!, customer: CustomerIn, source: Source!, notes: String }
    type Slot { staffId: ID!, startsAt: DateTime!, staff: Staff }
    type Staff { id: ID!, name: String!, appointments(first: Int): [Slot] }
    type Availability { timeZone: String!, slots: [Slot!]! }
    type Query { availableSlots(serviceId: ID!, from: DateTime!, to: DateTime!, staffId: ID): Availability! }
    type Mutation { bookAppointment(input: BookIn!): Slot! }
  `);

  test('arguments are filled by name; optional ones without a value are left out', () => {
    const op = buildOperation(schema, 'query', 'availableSlots', {
      serviceId: () => 'svc',
      from: () => 'A',
      to: () => 'B',
    });
    expect(op).toEqual({
      query:
        'query BenchAvailableSlots($serviceId: ID!, $from: DateTime!, $to: DateTime!) { availableSlots(serviceId: $serviceId, from: $from, to: $to) { timeZone slots { staffId startsAt staff { id name } } } }',
      variables: { serviceId: 'svc', from: 'A', to: 'B' },
      filled: ['serviceId', 'from', 'to'],
    });
  });

  test('input objects are filled field by field, enums take a preferred value', () => {
    const op = buildOperation(schema, 'mutation', 'bookAppointment', {
      serviceId: () => 'svc',
      staffId: () => '__STAFF__',
      startsAt: () => '__START__',
      customer: () => RECURSE,
      phone: () => '__PHONE__',
      source: () => 'MANUAL',
    });
    expect('variables' in op && op.variables).toEqual({
      input: {
        serviceId: 'svc',
        staffId: '__STAFF__',
        startsAt: '__START__',
        customer: { phone: '__PHONE__' },
        source: 'MANUAL',
      },
    });
  });

  test('a required argument nobody can fill makes the operation unbuildable, with the reason', () => {
    expect(buildOperation(schema, 'query', 'availableSlots', {})).toEqual({
      missing: 'availableSlots: no value for required serviceId (ID!)',
    });
    expect(buildOperation(schema, 'query', 'nothing', {})).toEqual({
      missing: 'query field nothing is not in the schema',
    });
  });
});

describe('targets', () => {
  const row = (server: OpResult['server'], op: string, okRps: number, extra = {}): OpResult => ({
    op,
    title: op,
    server,
    round: 0,
    requests: okRps * 5,
    durationS: 5,
    rps: okRps,
    okRps,
    latencyMs: { mean: 5, p50: 5, p95: 10, p99: 20, max: 30 },
    errors: 0,
    errorSamples: [],
    socketErrors: 0,
    timeouts: 0,
    statuses: {},
    bytesPerResponse: 1000,
    statementsPerRequest: 7,
    serverCpuMsPerRequest: 1,
    serverRssPeakMb: 100,
    machineBusyPct: 90,
    loadAvg: 2,
    ...extra,
  });
  const scale = (n: number, results: OpResult[], more: Partial<ScaleResult> = {}): ScaleResult => ({
    scale: n,
    companies: 10,
    totals: {},
    benchCompany: { appointments: 1, customers: 1, calls: 1, staff: 1 },
    seedSeconds: 1,
    databaseSize: '1 MB',
    explain: [],
    results,
    skipped: [],
    detected: {},
    serverHwmMb: { prod: 200 },
    ...more,
  });
  const same: SameRowsResult = {
    ok: true,
    targets: ['floor', 'prod', 'peer'],
    rows: 50,
    detail: '50 rows equal',
  };

  test('ratios and thresholds', () => {
    const targets = evaluateTargets([
      scale(
        1,
        [
          row('floor', 'appointmentsPage', 1000),
          row('peer', 'appointmentsPage', 540),
          row('prod', 'appointmentsPage', 600, { serverCpuMsPerRequest: 4.9 }),
          row('devRef', 'appointmentsPage', 500),
          row('shieldOff', 'appointmentsPage', 550),
          row('filterOff', 'appointmentsPage', 700),
          row('floor', 'appointmentsPage1', 1000),
          row('peer', 'appointmentsPage1', 800),
          row('prod', 'appointmentsPage1', 790, { serverCpuMsPerRequest: 1.6 }),
          row('prod', 'webhookRetell', 1200, { extra: { accepted: 6000, stored: 6000 } }),
        ],
        { sameRows: same },
      ),
    ]);
    const status = Object.fromEntries(targets.map((t) => [t.id, t.status]));
    expect(status).toMatchObject({
      'same-rows': 'met',
      'page-vs-floor': 'met',
      'page-vs-peer': 'met',
      'page1-vs-floor': 'missed',
      'cpu-page': 'met',
      'cpu-page1': 'missed',
      'shield-cost': 'met',
      'tenant-cost': 'missed',
      'statements-flat': 'met',
      'slots-p95-growth': 'not measured',
      'p95-growth': 'not measured',
      rss: 'not measured',
      'webhook-ingest': 'met',
    });
    const page1 = targets.find((t) => t.id === 'page1-vs-floor')!;
    expect(page1.measured).toBe('1x: 0.79 (790 / 1000 req/s; / peer 0.99) ✗');
    expect(targets.find((t) => t.id === 'cpu-page')!.measured).toBe(
      '1x: 4.90 ms (peer 1.00, floor 1.00)',
    );
  });

  test('different rows fail the same-rows target and the throughput ratios of that scale', () => {
    const targets = evaluateTargets([
      scale(
        1,
        [
          row('floor', 'appointmentsPage', 1000),
          row('peer', 'appointmentsPage', 100),
          row('prod', 'appointmentsPage', 900),
        ],
        { sameRows: { ...same, ok: false, detail: 'peer row 3 status differ' } },
      ),
    ]);
    const byId = Object.fromEntries(targets.map((t) => [t.id, t]));
    expect(byId['same-rows'].status).toBe('missed');
    expect(byId['same-rows'].measured).toMatch(/ROWS DIFFER: peer row 3 status differ/);
    expect(byId['page-vs-floor'].status).toBe('missed');
    expect(byId['page-vs-peer'].measured).toMatch(/rows differ/);
  });

  test('RSS is judged at 1000x; availableSlots growth is its own target', () => {
    const slots = (p95: number) =>
      row('prod', 'availableSlots', 50, { latencyMs: { mean: 1, p50: 1, p95, p99: 1, max: 1 } });
    const targets = evaluateTargets([
      scale(1, [slots(100), row('prod', 'node', 500)]),
      scale(1000, [slots(250), row('prod', 'node', 500)], {
        serverHwmMb: { prod: 260, peer: 140 },
      }),
    ]);
    const byId = Object.fromEntries(targets.map((t) => [t.id, t]));
    expect(byId.rss).toMatchObject({ status: 'missed', measured: '1000x: 260 MB (peer 140 MB) ✗' });
    expect(byId['slots-p95-growth'].status).toBe('missed');
    expect(byId['p95-growth']).toMatchObject({ status: 'met' });
    expect(byId['p95-growth'].measured).not.toMatch(/availableSlots/);
  });

  test('a report whose floor page is named `floor` (older runs) is still compared', () => {
    const targets = evaluateTargets([
      scale(1, [row('floor', 'floor', 1000), row('prod', 'appointmentsPage', 700)]),
    ]);
    expect(targets.find((t) => t.id === 'page-vs-floor')!.status).toBe('met');
  });
});

describe('same rows', () => {
  const company = '11111111-1111-4111-8111-111111111111';
  const uuid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
  const shape: PeerPageShape = {
    root: 'allAppointments',
    orderBy: ['STARTS_AT_ASC', 'ID_ASC'],
    customer: 'customerByCompanyIdAndCustomerId',
    staff: 'staffByCompanyIdAndStaffId',
    service: 'serviceByCompanyIdAndServiceId',
  };
  const ours = (n: number, staff: boolean) => ({
    id: toGlobalId('Appointment', company, uuid(n)),
    startsAt: '2026-11-27T08:00:00.000Z',
    endsAt: '2026-11-27T09:00:00.000Z',
    status: 'SCHEDULED',
    customer: { id: toGlobalId('Customer', company, uuid(100 + n)) },
    staff: staff ? { id: toGlobalId('Staff', company, uuid(200)) } : null,
    service: { id: toGlobalId('Service', company, uuid(300)) },
  });
  const peer = (n: number, staff: boolean) => ({
    id: uuid(n),
    startsAt: '2026-11-27T09:00:00+01:00',
    endsAt: '2026-11-27T10:00:00+01:00',
    status: 'scheduled',
    customerByCompanyIdAndCustomerId: { id: uuid(100 + n) },
    staffByCompanyIdAndStaffId: staff ? { id: uuid(200) } : null,
    serviceByCompanyIdAndServiceId: { id: uuid(300) },
  });
  const oursPage = (nodes: object[]) => ({
    data: { appointments: { edges: nodes.map((node) => ({ node })) } },
  });
  const peerPage = (nodes: object[]) => ({
    data: { allAppointments: { edges: nodes.map((node) => ({ node })) } },
  });

  test('global ids and raw uuids, offsets and enum case normalise to the same rows', () => {
    const a = rowsFromOurs(oursPage([ours(1, true), ours(2, false)]), company);
    const b = rowsFromPeer(peerPage([peer(1, true), peer(2, false)]), shape);
    expect(a).toEqual(b);
    expect(a[1]).toEqual<PageRow>({
      id: uuid(2),
      customer: uuid(102),
      staff: null,
      service: uuid(300),
      startsAt: '2026-11-27T08:00:00.000Z',
      endsAt: '2026-11-27T09:00:00.000Z',
      status: 'scheduled',
    });
    expect(
      compareRows([
        { target: 'floor', rows: a },
        { target: 'peer', rows: b },
      ]),
    ).toMatchObject({ ok: true, rows: 2 });
  });

  test('another order, another status or a missing row is reported', () => {
    const a = rowsFromOurs(oursPage([ours(1, true), ours(2, true)]), company);
    const swapped = rowsFromPeer(peerPage([peer(2, true), peer(1, true)]), shape);
    expect(
      compareRows([
        { target: 'floor', rows: a },
        { target: 'peer', rows: swapped },
      ]),
    ).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/^peer row 0 id, customer differ/),
    });
    const cancelled = rowsFromPeer(
      peerPage([peer(1, true), { ...peer(2, true), status: 'cancelled' }]),
      shape,
    );
    expect(
      compareRows([
        { target: 'floor', rows: a },
        { target: 'peer', rows: cancelled },
      ]).detail,
    ).toBe('peer row 1 status differ (status: cancelled vs floor scheduled)');
    expect(
      compareRows([
        { target: 'floor', rows: a },
        { target: 'prod', rows: a.slice(0, 1) },
      ]).detail,
    ).toBe('prod 1 rows, floor 2');
  });

  test('nothing to compare is not a pass', () => {
    expect(compareRows([{ target: 'prod', rows: [] }]).ok).toBe(false);
    expect(
      compareRows([
        { target: 'prod', rows: [] },
        { target: 'peer', rows: [] },
      ]),
    ).toMatchObject({ ok: false, detail: 'prod answered no rows' });
  });

  test('an id of another company or type, or an answer with errors, is refused', () => {
    const other = { ...ours(1, true), id: toGlobalId('Appointment', uuid(9), uuid(1)) };
    expect(() => rowsFromOurs(oursPage([other]), company)).toThrow(/not the measured company/);
    const wrongType = { ...ours(1, true), id: toGlobalId('Customer', company, uuid(1)) };
    expect(() => rowsFromOurs(oursPage([wrongType]), company)).toThrow(/Customer id/);
    expect(() => rowsFromPeer({ errors: [{ message: 'permission denied' }] }, shape)).toThrow(
      /permission denied/,
    );
  });
});

describe('the peer page from its generated schema', () => {
  const sdl = (appointmentExtra = '') => `
    scalar Datetime
    scalar UUID
    enum AppointmentsOrderBy { NATURAL ID_ASC STARTS_AT_ASC STARTS_AT_DESC }
    type Customer { id: UUID! name: String! phoneE164: String email: String }
    type Staff { id: UUID! name: String! }
    type Service { id: UUID! name: String! durationMinutes: Int! priceCents: Int! }
    type Appointment {
      id: UUID! startsAt: Datetime! endsAt: Datetime! status: String! source: String!
      notes: String priceCents: Int
      customerByCompanyIdAndCustomerId: Customer
      staffByCompanyIdAndStaffId: Staff
      serviceByCompanyIdAndServiceId: Service
      ${appointmentExtra}
    }
    type AppointmentEdge { cursor: String node: Appointment! }
    type AppointmentsConnection { edges: [AppointmentEdge!]! }
    type Query { allAppointments(first: Int, orderBy: [AppointmentsOrderBy!]): AppointmentsConnection }
  `;

  test('the connection and the composite-key relations are found', () => {
    const shape = findPeerPageShape(buildSchema(sdl('customersByX(x: Int): Customer')));
    expect(shape).toEqual({
      root: 'allAppointments',
      orderBy: ['STARTS_AT_ASC', 'ID_ASC'],
      customer: 'customerByCompanyIdAndCustomerId',
      staff: 'staffByCompanyIdAndStaffId',
      service: 'serviceByCompanyIdAndServiceId',
    });
    const query = peerPageQuery(shape as PeerPageShape);
    expect(query).toMatch(/allAppointments\(first: \$first, orderBy: \[STARTS_AT_ASC, ID_ASC\]\)/);
    expect(query).toMatch(/customerByCompanyIdAndCustomerId \{ id name phoneE164 email \}/);
  });

  test('a relation the schema does not show is named as the reason', () => {
    const schema = buildSchema(
      sdl().replace('staffByCompanyIdAndStaffId: Staff', '').replace('type Staff', 'type Unused'),
    );
    expect(findPeerPageShape(schema)).toEqual({
      missing: 'no single relation from Appointment to Staff (found none)',
    });
  });
});
