import { buildSchema } from 'graphql';
import { histogramByLabel } from '../../bench/http';
import { graphqlCheck } from '../../bench/load';
import { parseOptions } from '../../bench/options';
import { evaluateTargets, type OpResult, type ScaleResult } from '../../bench/report';
import { buildOperation, RECURSE } from '../../bench/schema-probe';
import { allocate, companyShares, defaultCompanies } from '../../bench/seed';

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
  const scale = (n: number, results: OpResult[]): ScaleResult => ({
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
  });

  test('ratios and thresholds', () => {
    const targets = evaluateTargets([
      scale(1, [
        row('floor', 'floor', 1000),
        row('prod', 'appointmentsPage', 600),
        row('devRef', 'appointmentsPage', 500),
        row('shieldOff', 'appointmentsPage', 550),
        row('filterOff', 'appointmentsPage', 700),
        row('prod', 'appointmentsPage1', 900),
        row('prod', 'webhookRetell', 1200, { extra: { accepted: 6000, stored: 6000 } }),
      ]),
    ]);
    const status = Object.fromEntries(targets.map((t) => [t.id, t.status]));
    expect(status).toMatchObject({
      'page-vs-floor': 'met',
      'shield-cost': 'met',
      'tenant-cost': 'missed',
      'statements-flat': 'met',
      'p95-growth': 'not measured',
      rss: 'met',
      'webhook-ingest': 'met',
    });
  });
});
