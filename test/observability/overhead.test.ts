import http from 'node:http';
import express, { type Express } from 'express';
import pino from 'pino';
import { requestIdMiddleware } from '../../src/http/request-id';
import { requestStorage } from '../../src/observability/context';
import { observeDatabase } from '../../src/observability/db';
import { observeHttp } from '../../src/observability/http';
import { createLogger } from '../../src/observability/logger';
import { createTestDatabase, type TestDatabase } from '../helpers/pg';
import { testDeps, captureLog } from './helpers';

/**
 * What the observability middleware and the SQL hooks cost per request, measured in one run
 * against the same routes without them: sequential keep-alive requests, rounds interleaved so
 * drift on a shared machine hits every variant alike, the median round reported. Client cost is
 * the same for every variant, so the differences are the server's overhead.
 */
const REQUESTS_PER_ROUND = 1000;
const ROUNDS = 5;

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => t.drop());

async function listen(app: Express): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      const closed = new Promise((resolve) => server.close(resolve));
      server.closeAllConnections();
      await closed;
    },
  };
}

interface Round {
  wallMs: number;
  cpuMs: number;
}

async function round(url: string): Promise<Round> {
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  for (let i = 0; i < REQUESTS_PER_ROUND; i++) {
    const res = await fetch(url);
    await res.arrayBuffer();
  }
  const wall = Number(process.hrtime.bigint() - started) / 1e6;
  const used = process.cpuUsage(cpu);
  return {
    wallMs: wall / REQUESTS_PER_ROUND,
    cpuMs: (used.user + used.system) / 1000 / REQUESTS_PER_ROUND,
  };
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

test('per-request overhead of the HTTP observability and the SQL hooks', async () => {
  const deps = testDeps(t, captureLog('silent'));
  // A real JSON log line per request, written to /dev/null: the cost of formatting it counts.
  deps.logger = createLogger('info', false, pino.destination({ dest: '/dev/null', sync: true }));
  const bare = express();
  const observed = express();
  bare.use(requestIdMiddleware);
  observed.use(requestIdMiddleware);
  observed.use(observeHttp(deps));
  for (const app of [bare, observed]) {
    app.get('/healthz', (_req, res) => {
      res.json({ status: 'ok' });
    });
    app.get('/ping', (_req, res) => {
      res.json({ status: 'ok' });
    });
    app.get('/db', async (_req, res) => {
      await deps.db.knex.raw('select 1');
      res.json({ status: 'ok' });
    });
  }
  // The SQL hooks are on the knex both apps share; they are switched off for the bare rounds.
  let uninstall: (() => void) | undefined = observeDatabase(deps);
  const a = await listen(bare);
  const b = await listen(observed);
  const variants = {
    'GET /healthz bare': { url: `${a.url}/healthz`, hooks: false },
    'GET /healthz observed (debug line, not written)': { url: `${b.url}/healthz`, hooks: true },
    'GET /ping observed (info line written)': { url: `${b.url}/ping`, hooks: true },
    'GET /db bare (select 1)': { url: `${a.url}/db`, hooks: false },
    'GET /db observed (select 1, SQL hooks on)': { url: `${b.url}/db`, hooks: true },
  };
  const results: Record<string, Round[]> = {};
  try {
    for (const v of Object.values(variants)) await round(v.url); // warm-up
    for (let r = 0; r < ROUNDS; r++) {
      for (const [name, v] of Object.entries(variants)) {
        if (v.hooks && !uninstall) uninstall = observeDatabase(deps);
        if (!v.hooks && uninstall) {
          uninstall();
          uninstall = undefined;
        }
        // Async context tracking costs every promise in the process while any storage is in use;
        // disabling the storage turns it off for the bare rounds (the next run() turns it on).
        if (!v.hooks) requestStorage.disable();
        (results[name] ??= []).push(await round(v.url));
      }
    }
  } finally {
    uninstall?.();
    await a.close();
    await b.close();
  }
  const table = Object.entries(results).map(([name, rounds]) => ({
    name,
    wallMs: median(rounds.map((x) => x.wallMs)),
    cpuMs: median(rounds.map((x) => x.cpuMs)),
  }));
  const by = (name: string) => table.find((row) => row.name === name)!;
  const delta = (x: string, y: string) => ({
    wallMs: by(x).wallMs - by(y).wallMs,
    cpuMs: by(x).cpuMs - by(y).cpuMs,
  });
  const overheadProbe = delta(
    'GET /healthz observed (debug line, not written)',
    'GET /healthz bare',
  );
  const overheadLogged = delta('GET /ping observed (info line written)', 'GET /healthz bare');
  const overheadDb = delta('GET /db observed (select 1, SQL hooks on)', 'GET /db bare (select 1)');
  process.stdout.write(
    [
      '',
      `observability overhead, median of ${ROUNDS} rounds x ${REQUESTS_PER_ROUND} sequential requests (client and server in one process):`,
      ...table.map(
        (row) =>
          `  ${row.name.padEnd(48)} ${row.wallMs.toFixed(3)} ms/request wall, ${row.cpuMs.toFixed(3)} ms/request CPU`,
      ),
      `  overhead, probe route:        ${overheadProbe.wallMs.toFixed(3)} ms wall, ${overheadProbe.cpuMs.toFixed(3)} ms CPU`,
      `  overhead, with a log line:    ${overheadLogged.wallMs.toFixed(3)} ms wall, ${overheadLogged.cpuMs.toFixed(3)} ms CPU`,
      `  overhead, one SQL statement:  ${overheadDb.wallMs.toFixed(3)} ms wall, ${overheadDb.cpuMs.toFixed(3)} ms CPU`,
      '',
    ].join('\n'),
  );
  // Generous bounds for a shared machine; the figures above are what to look at.
  expect(overheadLogged.cpuMs).toBeLessThan(0.5);
  expect(overheadDb.cpuMs).toBeLessThan(0.5);
});
