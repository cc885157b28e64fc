import { checkHotQueries, describePlan, hotQueries, type QueryCheck } from '../../bench/explain';
import { BASE_VOLUMES, seedBenchData, type SeedResult } from '../../bench/seed';
import { createTestDatabase, type TestDatabase } from '../helpers/pg';

/**
 * The hot read paths (appointments page, customers list and search, dashboard, availability,
 * node) are EXPLAINed on the benchmark's 10x data, as the runtime role inside a transaction bound
 * to the largest company, so row level security is part of every plan. Each must be servable by an
 * index (a Seq Scan that survives `enable_seqscan = off` means no index fits), and none may
 * sequentially scan a tenant table of more than 2,000 rows. The benchmark runs the same check at
 * every scale and reports it (bench/results).
 */
const SCALE = 10;

let t: TestDatabase;
let seed: SeedResult;
let checks: QueryCheck[];

beforeAll(async () => {
  t = await createTestDatabase();
  seed = await seedBenchData(t.superuser, { scale: SCALE, passwordHash: 'not-a-real-hash' });
  const b = seed.bench;
  checks = await checkHotQueries(
    t.db.knex,
    hotQueries({
      companyId: b.id,
      staffIds: b.staffIds,
      serviceId: b.bookingServiceId,
      customerIds: b.customerIds.slice(0, 50),
      appointmentId: b.appointmentIds[0],
      namePrefix: b.namePrefixes[0],
      phone: b.customerPhones[0],
      now: new Date(),
    }),
    b.id,
    // The largest company has 120 customers at 10x: a tighter allowance keeps the gaps visible.
    { seqScanRowLimit: 2000, wasteAllowance: 50 },
  );
}, 120_000);

afterAll(async () => {
  await t?.drop();
});

describe('benchmark seed at 10x', () => {
  test('has the old system volumes times ten, a fifth of them in the largest company', () => {
    expect(seed.totals.appointments).toBe(BASE_VOLUMES.appointments * SCALE);
    expect(seed.totals.customers).toBe(BASE_VOLUMES.customers * SCALE);
    expect(seed.totals.calls).toBe(BASE_VOLUMES.calls * SCALE);
    expect(seed.bench.counts.appointments).toBe(
      Math.round(0.2 * BASE_VOLUMES.appointments * SCALE),
    );
    expect(seed.companies).toBeGreaterThanOrEqual(10);
  });

  test('runs as the runtime role under row level security', async () => {
    const seen = await t.db.knex.transaction(async (trx) => {
      await trx.raw(`select set_config('app.company_id', ?, true)`, [seed.bench.id]);
      const { rows } = await trx.raw<{ rows: { who: string; n: number }[] }>(
        'select current_user as who, count(*)::int as n from appointments',
      );
      return rows[0];
    });
    expect(seen).toEqual({ who: 'app_runtime', n: seed.bench.counts.appointments });
  });
});

describe('hot queries use index scans (EXPLAIN as app_runtime with RLS)', () => {
  const names = [
    'appointments page',
    'appointments page after cursor',
    'appointments page relations',
    'customers list',
    'customer search by name prefix',
    'customer search by phone',
    'dashboard',
    'availability: one staff member',
    'availability: staff and hours',
    'availability: busy window',
    'node(id)',
  ];

  test('every hot query is checked', () => {
    expect(checks.map((c) => c.name).sort()).toEqual([...names].sort());
  });

  const expectFits = (name: string) => {
    const check = checks.find((c) => c.name === name)!;
    const plans = `natural: ${describePlan(check.natural)}\nforced: ${describePlan(check.forced)}`;
    expect({ name, problems: check.problems, plans }).toEqual({ name, problems: [], plans });
  };

  test.each(names)('%s', (name) => {
    expectFits(name);
    expect(checks.find((c) => c.name === name)!.forced.indexes.length).toBeGreaterThan(0);
  });

  test('no natural-plan Seq Scan on a tenant table over 2,000 rows', () => {
    const seqScans = checks.flatMap((c) => c.problems.filter((p) => p.startsWith('Seq Scan')));
    expect(seqScans).toEqual([]);
  });
});
