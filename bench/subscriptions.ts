/**
 * GraphQL subscriptions, measured: the server's memory for 1,000 idle subscriptions (each on its
 * own graphql-ws socket), and the end-to-end latency from a booking to a subscriber, for a booking
 * made through GraphQL and one made by a system actor (the voice agent or a webhook) through the
 * scheduling service in another process on the same database (so it crosses LISTEN/NOTIFY).
 *
 *   npm run build --silent && node dist/bench/subscriptions.js [--idle 1000] [--bookings 200]
 *
 * Needs a Postgres superuser at DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres);
 * creates and drops its own database. Results are printed and written to bench/results.
 */
import 'reflect-metadata';
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createClient, type Client } from 'graphql-ws';
import knexFactory from 'knex';
import pino from 'pino';
import WebSocket from 'ws';
import { testConfig } from '../src/config';
import type { Actor } from '../src/context/actor';
import type { AppDeps } from '../src/context/deps';
import { runInContext } from '../src/context/request-context';
import { migrateLatest, openDatabase } from '../src/db/database';
import { postgresBus } from '../src/live/bus';
import { createMetrics } from '../src/observability/metrics';
import { bookAppointment } from '../src/scheduling';
import type { TestServer } from '../test/helpers/server';
import { createWorld, globalId } from '../test/helpers/world';

const args = process.argv.slice(2);
const opt = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const IDLE = opt('idle', 1000);
const BOOKINGS = opt('bookings', 200);
const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const urlFor = (db: string) => {
  const u = new URL(ADMIN_URL);
  u.pathname = `/${db}`;
  return u.toString();
};

interface Mem {
  rss: number;
  heapUsed: number;
  external: number;
}

function ask(child: ChildProcess): Promise<Mem> {
  return new Promise((resolve) => {
    const on = (m: unknown) => {
      if (m && typeof m === 'object' && 'rss' in m) {
        child.off('message', on);
        resolve(m as Mem);
      }
    };
    child.on('message', on);
    child.send('mem');
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
const pct = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
};

function client(url: string, token: string): Client {
  return createClient({
    url: `${url.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    lazy: false,
    retryAttempts: 0,
    onNonLazyError: () => undefined,
  });
}

async function main(): Promise<void> {
  const name = `bench_subs_${randomBytes(4).toString('hex')}`;
  const admin = knexFactory({ client: 'pg', connection: ADMIN_URL, pool: { min: 0, max: 1 } });
  await admin.raw('create database ??', [name]);
  const url = urlFor(name);
  const superuser = knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: 2 } });
  let child: ChildProcess | undefined;
  const clients: Client[] = [];
  let deps: AppDeps | undefined;
  try {
    await migrateLatest(superuser);
    child = fork(path.join(__dirname, 'subscriptions-server.js'), [], {
      env: { ...process.env, DATABASE_URL: url, NODE_ENV: 'test' },
      execArgv: ['--expose-gc'],
    });
    const serverUrl = await new Promise<string>((resolve, reject) => {
      child!.once('message', (m) => resolve((m as { url: string }).url));
      child!.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    });
    const gql: TestServer['gql'] = async (query, variables, options = {}) => {
      const res = await fetch(`${serverUrl}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await res.json()) as { data?: any; errors?: any[] };
      return { status: res.status, headers: res.headers, data: body.data, errors: body.errors };
    };
    const w = await createWorld({ t: { superuser }, gql } as unknown as TestServer);
    const tokenA = await w.login(w.a.users.admin.email);
    const tokenB = await w.login(w.b.users.admin.email);

    // The measuring subscriber (company A): every event carries the appointment id.
    const seen = new Map<string, number>();
    const watcher = client(serverUrl, tokenA);
    clients.push(watcher);
    watcher.subscribe(
      { query: 'subscription { appointmentChanged { action appointment { id } } }' },
      {
        next: (v) => {
          const id = (v.data as any)?.appointmentChanged?.appointment?.id as string | undefined;
          if (id) seen.set(id, performance.now());
        },
        error: () => undefined,
        complete: () => undefined,
      },
    );
    await sleep(500);

    let slot = 0;
    const nextSlot = () => {
      slot += 1;
      const day = 5 + Math.floor(slot / 20);
      const d = new Date(Date.now() + day * 86_400_000);
      d.setUTCHours(8, 0, 0, 0);
      return {
        startsAt: new Date(d.getTime() + (Math.floor(slot / 2) % 10) * 40 * 60_000),
        staffId: slot % 2 === 0 ? w.a.staffId : w.a.otherStaffId,
      };
    };
    // The second staff member of company A offers the service and works the same hours.
    await superuser('staff_services').insert({
      company_id: w.a.id,
      staff_id: w.a.otherStaffId,
      service_id: w.a.serviceId,
    });
    await superuser('working_hours').insert(
      [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({
        company_id: w.a.id,
        staff_id: w.a.otherStaffId,
        branch_id: w.a.branchId,
        weekday,
        starts_at: '09:00',
        ends_at: '17:00',
      })),
    );

    const waitSeen = async (id: string) => {
      const end = Date.now() + 10_000;
      while (!seen.has(id)) {
        if (Date.now() > end) throw new Error(`event for ${id} not received`);
        await sleep(1);
      }
      return seen.get(id)!;
    };
    const graphqlBooking = async (): Promise<number> => {
      const { startsAt, staffId } = nextSlot();
      const t0 = performance.now();
      const res = await gql(
        `mutation($s: ID!, $st: ID, $t: DateTime!, $c: ID) {
          bookAppointment(input: { serviceId: $s, staffId: $st, startsAt: $t, customerId: $c }) { appointment { id } }
        }`,
        {
          s: globalId('Service', w.a.id, w.a.serviceId),
          st: globalId('Staff', w.a.id, staffId),
          t: startsAt.toISOString(),
          c: globalId('Customer', w.a.id, w.a.customerId),
        },
        { token: tokenA },
      );
      if (res.errors) throw new Error(JSON.stringify(res.errors));
      return (await waitSeen(res.data!.bookAppointment.appointment.id)) - t0;
    };

    // A system actor booking through the scheduling service in this process: its NOTIFY reaches
    // the server process, which delivers to the subscriber.
    const db = await openDatabase({ url, poolMax: 4 });
    const logger = pino({ level: 'warn' });
    deps = {
      config: testConfig({ databaseUrl: url }),
      db,
      logger,
      metrics: createMetrics(),
      live: await postgresBus({ notify: db.knex, listenUrl: url, logger }),
    };
    const voice: Actor = { kind: 'system', name: 'voice_agent' };
    const systemBooking = async (): Promise<number> => {
      const { startsAt, staffId } = nextSlot();
      const t0 = performance.now();
      const id = await runInContext(
        { deps: deps!, actor: voice, companyId: w.a.id },
        async (ctx) =>
          (
            await bookAppointment(ctx, {
              serviceId: w.a.serviceId,
              staffId,
              customerId: w.a.customerId,
              source: 'phone',
              startsAt,
            })
          ).appointment.id,
      );
      return (await waitSeen(globalId('Appointment', w.a.id, id))) - t0;
    };

    // Warm up both paths, then measure memory with one subscriber.
    for (let i = 0; i < 5; i++) {
      await graphqlBooking();
      await systemBooking();
    }
    await sleep(500);
    const before = await ask(child);

    // IDLE idle subscriptions of company B, one socket each.
    const started = performance.now();
    for (let i = 0; i < IDLE; i++) {
      const c = client(serverUrl, tokenB);
      clients.push(c);
      c.subscribe(
        { query: 'subscription { appointmentChanged { action appointment { id } } }' },
        { next: () => undefined, error: () => undefined, complete: () => undefined },
      );
      if (i % 100 === 99) await sleep(50);
    }
    await sleep(3000);
    const connectMs = performance.now() - started;
    const after = await ask(child);

    // Latency with the idle subscriptions open (each event is filtered for each of them).
    const viaGraphql: number[] = [];
    const viaSystem: number[] = [];
    for (let i = 0; i < BOOKINGS; i++) {
      viaGraphql.push(await graphqlBooking());
      viaSystem.push(await systemBooking());
    }

    const perSub = (after.rss - before.rss) / IDLE;
    const lines = [
      `# GraphQL subscriptions (${new Date().toISOString().slice(0, 10)})`,
      '',
      `Server: one process (startServer), Postgres LISTEN/NOTIFY, memory after a full GC.`,
      '',
      '| measure | value |',
      '| --- | --- |',
      `| idle subscriptions opened | ${IDLE} (one graphql-ws socket each, in ${(connectMs / 1000).toFixed(1)} s) |`,
      `| RSS before / after | ${mb(before.rss)} MB / ${mb(after.rss)} MB |`,
      `| RSS added by ${IDLE} idle subscriptions | **${mb(after.rss - before.rss)} MB** (${(perSub / 1024).toFixed(1)} KB each) |`,
      `| JS heap added | ${mb(after.heapUsed - before.heapUsed)} MB |`,
      `| external (buffers) added | ${mb(after.external - before.external)} MB |`,
      `| GraphQL booking -> subscriber, p50 / p95 / max (ms, ${BOOKINGS}) | ${pct(viaGraphql, 50).toFixed(1)} / **${pct(viaGraphql, 95).toFixed(1)}** / ${Math.max(...viaGraphql).toFixed(1)} |`,
      `| system-actor booking (scheduling service, other process) -> subscriber, p50 / p95 / max (ms, ${BOOKINGS}) | ${pct(viaSystem, 50).toFixed(1)} / **${pct(viaSystem, 95).toFixed(1)}** / ${Math.max(...viaSystem).toFixed(1)} |`,
      '',
      'Latency is measured from the start of the booking (the GraphQL request, or the unit of work)',
      'to the event arriving at the subscriber, so it includes the booking itself.',
      '',
    ];
    const report = lines.join('\n');
    console.log(report);
    const dir = path.resolve(__dirname, '..', '..', 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      path.join(dir, `subscriptions-${new Date().toISOString().slice(0, 10)}.md`),
      report,
    );
  } finally {
    await Promise.all(clients.map(async (c) => c.dispose()));
    await deps?.live?.close();
    await deps?.db.close();
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await superuser.destroy();
    await admin.raw('drop database if exists ?? with (force)', [name]);
    await admin.destroy();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
