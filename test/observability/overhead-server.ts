/**
 * The server side of the overhead measurement (overhead.test.ts), run in a process of its own so
 * that the load generator's work, and the async-context cost it would pay for its own promises,
 * stays out of the server's CPU figures. It serves the same routes twice, without and with the
 * observability middleware, plus a control port that switches the SQL hooks and reports CPU time.
 */
import http from 'node:http';
import express, { type Express } from 'express';
import pino from 'pino';
import { testConfig } from '../../src/config';
import { openDatabase } from '../../src/db/database';
import { requestIdMiddleware } from '../../src/http/request-id';
import { requestStorage } from '../../src/observability/context';
import { observeDatabase } from '../../src/observability/db';
import { observeHttp } from '../../src/observability/http';
import { createLogger } from '../../src/observability/logger';
import { testDeps } from '../helpers/deps';

async function listen(app: Express | http.RequestListener): Promise<number> {
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

async function main(): Promise<void> {
  const databaseUrl = process.env.DATABASE_URL!;
  const db = await openDatabase({ url: databaseUrl, poolMax: 4 });
  const deps = testDeps(db, {
    config: testConfig({ databaseUrl }), // A real JSON line per request, written to /dev/null: formatting it is part of the cost.
    logger: createLogger('info', false, pino.destination({ dest: '/dev/null', sync: true })),
  });
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
      await db.knex.raw('select 1');
      res.json({ status: 'ok' });
    });
  }
  let uninstall: (() => void) | undefined = observeDatabase(deps);
  const control = await listen((req: http.IncomingMessage, res: http.ServerResponse) => {
    if (req.url === '/observed') {
      uninstall ??= observeDatabase(deps);
    } else if (req.url === '/bare') {
      uninstall?.();
      uninstall = undefined;
      // Async context tracking costs every promise while a storage is in use; disabling the
      // storage turns it off until the next request of the observed app turns it on.
      requestStorage.disable();
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(process.cpuUsage()));
  });
  const ports = { bare: await listen(bare), observed: await listen(observed), control };
  process.stdout.write(`${JSON.stringify(ports)}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
