import knexFactory, { type Knex } from 'knex';
import { startServer, type AppServer } from '../../src/app';
import { testConfig } from '../../src/config';
import { RequestContext } from '../../src/context/request-context';
import { openDatabase } from '../../src/db/database';
import { replicaRouterOf, type ReplicaRouter } from '../../src/db/replica';
import { testDeps } from '../helpers/deps';
import { PgCluster, withPostgresBinaries } from '../helpers/replica-cluster';
import { graphqlClient, type TestServer } from '../helpers/server';
import { createWorld, globalId, type World } from '../helpers/world';

/**
 * The read replica against a real streaming replica: a primary cluster of the test's own
 * (initdb) and a standby made from it with `pg_basebackup -R`, each on a free port. Replay is
 * paused on the standby (`pg_wal_replay_pause()`) to make it fall behind for real, and the standby
 * is stopped and started again.
 */
jest.setTimeout(120_000);

let primary: PgCluster;
let standby: PgCluster;
let owner: Knex;
let standbySuperuser: Knex;
let world: World;

interface Server {
  app: AppServer;
  router: ReplicaRouter;
  gql: TestServer['gql'];
}
/** Bound of minutes: the standby counts as close enough however long a test pauses replay. */
let patient: Server;
/** Bound of 300 ms: a paused standby is soon too far behind. */
let strict: Server;

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

async function serverWith(maxLagMs: number, redisKeyPrefix?: string): Promise<Server> {
  const db = await openDatabase({
    url: primary.url('app'),
    runtimeUrl: primary.url('app', 'app_runtime'),
    platformUrl: primary.url('app', 'app_platform_client'),
    replicaUrl: standby.url('app', 'app_runtime'),
    poolMax: 5,
  });
  const deps = testDeps(db, {
    config: testConfig({
      port: 0,
      host: '127.0.0.1',
      databaseUrl: primary.url('app'),
      replica: { url: standby.url('app', 'app_runtime'), maxLagMs, probeIntervalMs: 50 },
      ...(redisKeyPrefix ? { redisUrl: REDIS_URL, redisKeyPrefix } : {}),
    }),
  });
  const app = await startServer(deps);
  const router = replicaRouterOf(app.deps);
  return { app, router: router!, gql: graphqlClient(app.url) };
}

/** The read counters of a server as `target/reason` → count. */
async function reads(s: Server): Promise<Record<string, number>> {
  const metric = await s.app.deps.metrics.replicaReads.get();
  return Object.fromEntries(
    metric.values.map((v) => [`${String(v.labels.target)}/${String(v.labels.reason)}`, v.value]),
  );
}

/** What one operation changed in the read counters (only the counters that moved). */
async function counted(s: Server, fn: () => Promise<unknown>): Promise<Record<string, number>> {
  const before = await reads(s);
  await fn();
  const after = await reads(s);
  return Object.fromEntries(
    Object.entries(after)
      .filter(([k, v]) => v !== (before[k] ?? 0))
      .map(([k, v]) => [k, v - (before[k] ?? 0)]),
  );
}

async function until(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Company A's admin reading in a query's transaction, once the patient router uses the standby. */
async function standbyRead(): Promise<{ ctx: RequestContext; trx: Knex.Transaction }> {
  await until('the standby is in use', () => patient.router.state().usable);
  const actor = {
    kind: 'user' as const,
    userId: world.a.users.admin.id,
    companyId: world.a.id,
    roles: ['admin' as const],
    staffId: null,
  };
  const ctx = new RequestContext({ deps: patient.app.deps, actor, companyId: world.a.id });
  ctx.beginOperation('query', patient.router.route(undefined));
  return { ctx, trx: await ctx.trx() };
}

const CUSTOMERS = '{ customers(first: 100) { nodes { name } } }';

async function customerNames(s: Server, token: string): Promise<string[]> {
  const res = await s.gql<{ customers: { nodes: { name: string }[] } }>(CUSTOMERS, undefined, {
    token,
  });
  expect(res.errors).toBeUndefined();
  return res.data!.customers.nodes.map((n) => n.name).sort();
}

withPostgresBinaries.describe('read replica (a real streaming standby)', () => {
  beforeAll(async () => {
    primary = await PgCluster.primary();
    owner = await primary.createAppDatabase(2);
    standby = await PgCluster.replicaOf(primary);
    standbySuperuser = knexFactory({
      client: 'pg',
      connection: standby.url('app'),
      pool: { min: 0, max: 1 },
    });
    patient = await serverWith(10 * 60_000);
    strict = await serverWith(300);
    world = await createWorld({
      t: { superuser: owner },
      gql: patient.gql,
    } as unknown as TestServer);
    await until('both routers use the standby', () =>
      [patient, strict].every((s) => s.router.state().usable),
    );
  });

  afterAll(async () => {
    await patient?.app.close();
    await strict?.app.close();
    await standbySuperuser?.destroy();
    await owner?.destroy();
    standby?.destroy();
    primary?.destroy();
  });

  afterEach(async () => {
    await standbySuperuser?.raw('select pg_wal_replay_resume()').catch(() => undefined);
  });

  test('a query reads from the standby, in a transaction that is in recovery', async () => {
    const token = await world.login(world.a.users.staff.email);
    let names: string[] = [];
    const delta = await counted(patient, async () => {
      names = await customerNames(patient, token);
    });
    expect(delta).toEqual({ 'replica/ok': 1 });
    expect(names).toEqual([`Customer alpha`]);

    // The request context itself: a query's transaction is on the standby, a mutation's on the
    // primary.
    const deps = patient.app.deps;
    const actor = {
      kind: 'user' as const,
      userId: world.a.users.staff.id,
      companyId: world.a.id,
      roles: ['staff' as const],
      staffId: world.a.staffId,
    };
    const inRecovery = async (kind: 'query' | 'mutation') => {
      const ctx = new RequestContext({ deps, actor, companyId: world.a.id });
      ctx.beginOperation(kind, kind === 'query' ? patient.router.route(undefined) : undefined);
      const trx = await ctx.trx();
      const { rows } = (await trx.raw('select pg_is_in_recovery() as r')) as {
        rows: { r: boolean }[];
      };
      await ctx.finish(true);
      return rows[0].r;
    };
    expect(await inRecovery('query')).toBe(true);
    expect(await inRecovery('mutation')).toBe(false);
  });

  test('mutations write on the primary; the writer then reads from the primary until the standby has it', async () => {
    const adminToken = await world.login(world.a.users.admin.email);
    const managerToken = await world.login(world.a.users.manager.email);
    await standbySuperuser.raw('select pg_wal_replay_pause()');

    const write = await counted(patient, async () => {
      const res = await patient.gql<{ createCustomer: { name: string } }>(
        'mutation { createCustomer(input: { name: "Written while paused" }) { name } }',
        undefined,
        { token: adminToken },
      );
      expect(res.errors).toBeUndefined();
      expect(res.data?.createCustomer.name).toBe('Written while paused');
    });
    // Neither the writes nor the payload's reads went to the standby.
    expect(write).toEqual({});

    // The writer sees the write at once, from the primary.
    let names: string[] = [];
    expect(
      await counted(patient, async () => {
        names = await customerNames(patient, adminToken);
      }),
    ).toEqual({ 'primary/recent_write': 1 });
    expect(names).toContain('Written while paused');

    // Another user reads from the standby, which has not replayed it (within the bound here).
    expect(
      await counted(patient, async () => {
        names = await customerNames(patient, managerToken);
      }),
    ).toEqual({ 'replica/ok': 1 });
    expect(names).not.toContain('Written while paused');

    // Once replayed, the writer reads from the standby again, and the write is there.
    await standbySuperuser.raw('select pg_wal_replay_resume()');
    await until('the writer reads from the standby again', async () => {
      const delta = await counted(patient, async () => {
        names = await customerNames(patient, adminToken);
      });
      return delta['replica/ok'] === 1;
    });
    expect(names).toContain('Written while paused');
  });

  test('with Redis, a write in one process sends the writer to the primary in another', async () => {
    const prefix = `replica-test-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const one = await serverWith(10 * 60_000, prefix);
    const other = await serverWith(10 * 60_000, prefix);
    try {
      await until('both use the standby', () => [one, other].every((s) => s.router.state().usable));
      const token = await world.login(world.a.users.admin.email);
      await standbySuperuser.raw('select pg_wal_replay_pause()');
      const res = await one.gql(
        'mutation { createCustomer(input: { name: "Written in one process" }) { name } }',
        undefined,
        { token },
      );
      expect(res.errors).toBeUndefined();
      let names: string[] = [];
      expect(
        await counted(other, async () => {
          names = await customerNames(other, token);
        }),
      ).toEqual({ 'primary/recent_write': 1 });
      expect(names).toContain('Written in one process');
      // Another actor in that process still reads from the standby.
      const staffToken = await world.login(world.a.users.staff.email);
      expect(await counted(other, () => customerNames(other, staffToken))).toEqual({
        'replica/ok': 1,
      });
    } finally {
      await standbySuperuser.raw('select pg_wal_replay_resume()');
      await one.app.close();
      await other.app.close();
    }
  });

  test('a standby further behind than the bound is not used, and is used again once it caught up', async () => {
    const token = await world.login(world.a.users.staff.email);
    await standbySuperuser.raw('select pg_wal_replay_pause()');
    // Written by someone else (as a webhook would be): only the lag bound protects this reader.
    await owner('customers').insert({ company_id: world.a.id, name: 'Written behind the back' });
    await until('the strict router sees the standby lag', () => !strict.router.state().usable);
    expect(strict.router.state().lagMs).toBeGreaterThan(300);

    let names: string[] = [];
    expect(
      await counted(strict, async () => {
        names = await customerNames(strict, token);
      }),
    ).toEqual({ 'primary/lagging': 1 });
    expect(names).toContain('Written behind the back');
    // The gauge is set by each probe (the state above is computed at the moment of asking), so
    // it shows the lag by the next probe.
    await until(
      'the lag gauge shows it',
      async () => (await strict.app.deps.metrics.replicaLag.get()).values[0].value > 0.3,
    );

    await standbySuperuser.raw('select pg_wal_replay_resume()');
    await until('the standby caught up', () => strict.router.state().usable);
    expect(
      await counted(strict, async () => {
        names = await customerNames(strict, token);
      }),
    ).toEqual({ 'replica/ok': 1 });
    expect(names).toContain('Written behind the back');
  });

  test('a stopped standby: queries are answered from the primary, then from the standby once it is back', async () => {
    const token = await world.login(world.b.users.staff.email);
    await customerNames(strict, token); // a pooled connection to the standby exists
    standby.stop();
    try {
      // At once, before the probe noticed: the failed open falls back without an error.
      let names: string[] = [];
      const first = await counted(strict, async () => {
        names = await customerNames(strict, token);
      });
      expect(Object.keys(first)).toHaveLength(1);
      expect(['primary/replica_error', 'primary/unavailable']).toContain(Object.keys(first)[0]);
      expect(Object.values(first)).toEqual([1]);
      expect(names).toEqual(['Customer beta']);

      await until('the probe noticed', () => strict.router.state().problem === 'unreachable');
      expect(
        await counted(strict, async () => {
          names = await customerNames(strict, token);
        }),
      ).toEqual({ 'primary/unavailable': 1 });
      expect(names).toEqual(['Customer beta']);
    } finally {
      standby.start();
    }
    await until('the standby is used again', () => strict.router.state().usable);
    let names: string[] = [];
    expect(
      await counted(strict, async () => {
        names = await customerNames(strict, token);
      }),
    ).toEqual({ 'replica/ok': 1 });
    expect(names).toEqual(['Customer beta']);
  });

  test('a read transaction whose standby connection is lost midway continues on the primary', async () => {
    const { ctx, trx } = await standbyRead();
    const first = (await trx.raw(
      'select pg_is_in_recovery() as standby, pg_backend_pid() as pid, count(*)::int as n from customers',
    )) as { rows: { standby: boolean; pid: number; n: number }[] };
    expect(first.rows[0].standby).toBe(true);
    // The standby ends this backend, as a shutdown or a replay conflict would.
    await standbySuperuser.raw('select pg_terminate_backend(?)', [first.rows[0].pid]);
    const delta = await counted(patient, async () => {
      const again = (await trx.raw(
        `select pg_is_in_recovery() as standby, count(*)::int as n,
                current_setting('app.company_id', true) as tenant,
                current_setting('transaction_read_only') as read_only
           from customers`,
      )) as { rows: { standby: boolean; n: number; tenant: string; read_only: string }[] };
      // The same tenant, the same read-only transaction, the same rows: on the primary now.
      expect(again.rows[0]).toEqual({
        standby: false,
        n: first.rows[0].n,
        tenant: world.a.id,
        read_only: 'on',
      });
      await ctx.finish(true);
    });
    expect(delta).toEqual({ 'primary/replica_error': 1 });
    await until('the standby is used again', () => patient.router.state().usable);
  });

  test('row level security holds on the standby: one company cannot read another', async () => {
    const { ctx, trx } = await standbyRead();
    // Raw SQL, without the application's tenant filter: only row level security stands between.
    const { rows } = (await trx.raw(
      `select pg_is_in_recovery() as standby,
              count(*) filter (where company_id = ?)::int as own,
              count(*) filter (where company_id = ?)::int as other
         from customers`,
      [world.a.id, world.b.id],
    )) as { rows: { standby: boolean; own: number; other: number }[] };
    await ctx.finish(true);
    expect(rows[0].standby).toBe(true);
    expect(rows[0].own).toBeGreaterThan(0);
    expect(rows[0].other).toBe(0);

    // Over HTTP, from the standby: company A's admin lists only A's customers, and naming
    // company B's customer gets nothing of it.
    const token = await world.login(world.a.users.admin.email);
    let names: string[] = [];
    await until('the admin reads from the standby', async () => {
      const delta = await counted(patient, async () => {
        names = await customerNames(patient, token);
      });
      return delta['replica/ok'] === 1;
    });
    expect(names.length).toBeGreaterThan(0);
    expect(names).not.toContain('Customer beta');
    const res = await patient.gql(
      'query($id: ID!) { node(id: $id) { id ... on Customer { name } } }',
      { id: globalId('Customer', world.b.id, world.b.customerId) },
      { token },
    );
    expect(res.data?.node ?? null).toBeNull();
  });
});
