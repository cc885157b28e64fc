import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import ts from 'typescript';
import { startServer } from '../../src/app';
import { createMetrics } from '../../src/observability/metrics';
import { createTestDatabase } from '../helpers/pg';
import { RETELL_KEY, seedCompany, waitFor, webhookConfig } from './helpers';

/**
 * Webhook ingest throughput: signed deliveries per second stored durably (202) by one server
 * process on Postgres, with its worker applying them at the same time. Opt-in, since it loads the
 * machine: WEBHOOK_BENCH=1 npx jest test/webhooks/ingest-throughput
 */
const run = process.env.WEBHOOK_BENCH === '1' ? test : test.skip;
const seconds = Number(process.env.WEBHOOK_BENCH_SECONDS ?? 8);
const concurrency = Number(process.env.WEBHOOK_BENCH_CONCURRENCY ?? 32);

run(
  'ingest throughput',
  async () => {
    const t = await createTestDatabase();
    const server = await startServer({
      // The limiter would refuse all but 60 a minute from one address; the measurement is of the
      // ingest path itself.
      config: webhookConfig({ databaseUrl: t.url, webhookRateLimitPerMinute: 1_000_000 }),
      db: t.db,
      logger: pino({ level: 'silent' }),
      metrics: createMetrics(),
    });
    try {
      const co = await seedCompany(t.superuser);
      const dir = mkdtempSync(path.join(tmpdir(), 'webhook-load-'));
      const source = readFileSync(path.join(__dirname, 'load-client.ts'), 'utf8');
      const js = ts.transpileModule(source, {
        compilerOptions: {
          module: ts.ModuleKind.CommonJS,
          target: ts.ScriptTarget.ES2022,
          esModuleInterop: true,
        },
      }).outputText;
      const client = path.join(dir, 'load-client.js');
      writeFileSync(client, js);
      const { stdout } = await promisify(execFile)(process.execPath, [
        client,
        server.url,
        RETELL_KEY,
        String(seconds * 1000),
        String(concurrency),
        co.agentId,
        co.number,
      ]);
      const result = JSON.parse(stdout) as {
        accepted: number;
        acceptedPerSecond: number;
        seconds: number;
      };
      const stored = Number((await t.superuser('webhook_events').count({ n: '*' }))[0].n);
      const processedDuring = Number(
        (await t.superuser('webhook_events').where({ status: 'processed' }).count({ n: '*' }))[0].n,
      );
      const drainStart = Date.now();
      await waitFor(async () => {
        const left = await t
          .superuser('webhook_events')
          .whereIn('status', ['pending', 'processing'])
          .count({ n: '*' });
        return Number(left[0].n) === 0;
      }, 300_000);
      const drainSeconds = (Date.now() - drainStart) / 1000;
      const calls = Number((await t.superuser('calls').count({ n: '*' }))[0].n);
      console.log(
        JSON.stringify(
          { ...result, concurrency, stored, processedDuring, drainSeconds, calls },
          null,
          2,
        ),
      );
      expect(stored).toBe(result.accepted);
      expect(calls).toBe(result.accepted);
    } finally {
      await server.close();
      await t.drop();
    }
  },
  600_000,
);
