import { openDatabase } from '../../src/db/database';
import type { AppDeps } from '../../src/context/deps';
import { requestStorage, traceContextFrom } from '../../src/observability/context';
import { createLogger } from '../../src/observability/logger';
import { createMetrics } from '../../src/observability/metrics';
import { RetentionJob } from '../../src/privacy/retention-job';
import { WebhookWorker } from '../../src/webhooks/worker';
import { createTestDatabase, type TestDatabase } from '../helpers/pg';
import { webhookConfig } from '../webhooks/helpers';

/**
 * Background loops run outside any request's context: a worker started or woken up while a
 * request is being served (the webhook route wakes the worker after storing an event) must not
 * log with that request's id and trace id. The loops here run against a closed database, so each
 * round logs a warning whose fields can be read.
 */
let t: TestDatabase;
const lines: Array<Record<string, unknown>> = [];
let deps: AppDeps;

beforeAll(async () => {
  t = await createTestDatabase();
  const db = await openDatabase({ url: t.url, poolMax: 1 });
  await db.close();
  deps = {
    config: webhookConfig(),
    db,
    logger: createLogger('info', false, { write: (line: string) => lines.push(JSON.parse(line)) }),
    metrics: createMetrics(),
  };
});
afterAll(async () => {
  await t.drop();
});

const observation = (requestId: string) => ({
  requestId,
  trace: traceContextFrom(undefined),
  statements: 0,
  dbSeconds: 0,
  annotations: {},
});

async function until(pred: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const matching = (msg: string) => lines.filter((l) => String(l.msg).includes(msg));

test('the webhook worker, started and woken inside a request, logs without its ids', async () => {
  const worker = new WebhookWorker(deps, { pollIntervalMs: 20 });
  const request = observation('req-start');
  requestStorage.run(request, () => worker.start());
  try {
    await until(() => matching('could not claim').length >= 2);
    // Woken up by another request (as the webhook route does after storing an event).
    const before = matching('could not claim').length;
    requestStorage.run(observation('req-notify'), () => worker.notify());
    await until(() => matching('could not claim').length >= before + 2);
  } finally {
    await worker.stop();
  }
  const logged = matching('could not claim');
  expect(logged.length).toBeGreaterThanOrEqual(4);
  for (const line of logged) {
    expect(line.requestId).toBeUndefined();
    expect(line.traceId).toBeUndefined();
  }
  // The request itself still carries its ids.
  requestStorage.run(request, () => deps.logger.info('inside the request'));
  expect(matching('inside the request')[0]).toMatchObject({
    requestId: 'req-start',
    traceId: request.trace.traceId,
  });
});

test('the retention job, started inside a request, logs without its ids', async () => {
  const job = new RetentionJob(deps, { intervalMs: 20 });
  requestStorage.run(observation('req-retention'), () => job.start());
  try {
    await until(() => matching('retention run failed').length >= 2);
  } finally {
    await job.stop();
  }
  for (const line of matching('retention run failed')) {
    expect(line.requestId).toBeUndefined();
    expect(line.traceId).toBeUndefined();
  }
});
