/**
 * The server side of the subscription measurement (subscriptions.ts): the real server (startServer)
 * in a process of its own, so its memory is measured alone. Answers `mem` over IPC with its memory
 * after a full garbage collection.
 */
import 'reflect-metadata';
import pino from 'pino';
import { startServer } from '../src/app';
import { testConfig } from '../src/config';
import { openDatabase } from '../src/db/database';
import { createMetrics } from '../src/observability/metrics';

async function main(): Promise<void> {
  const databaseUrl = process.env.DATABASE_URL!;
  const base = testConfig();
  const server = await startServer({
    config: testConfig({
      port: 0,
      host: '127.0.0.1',
      databaseUrl,
      env: 'test',
      subscriptions: {
        ...base.subscriptions,
        maxSocketsPerCompany: 5000,
        maxSocketsPerToken: 5000,
      },
    }),
    db: await openDatabase({ url: databaseUrl, poolMax: 10 }),
    logger: pino({ level: 'warn' }),
    metrics: createMetrics(),
  });
  const gc = (globalThis as { gc?: () => void }).gc;
  process.on('message', (msg) => {
    if (msg !== 'mem') return;
    gc?.();
    gc?.();
    const m = process.memoryUsage();
    process.send?.({ rss: m.rss, heapUsed: m.heapUsed, external: m.external });
  });
  process.send?.({ url: server.url });
  process.on('SIGTERM', () => {
    void server.close().then(() => process.exit(0));
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
