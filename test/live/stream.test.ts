import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { testConfig } from '../../src/config';
import type { AppDeps } from '../../src/context/deps';
import { RequestContext } from '../../src/context/request-context';
import type { Database } from '../../src/db/database';
import { decodeEvent, encodeEvent, memoryBus, type LiveEvent } from '../../src/live/bus';
import { liveStream } from '../../src/live/stream';
import { createMetrics } from '../../src/observability/metrics';

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('the live event stream of one subscription', () => {
  test('a subscriber that does not read is dropped once its queue is full, counted', async () => {
    const logger = pino({ level: 'silent' });
    const deps: AppDeps = {
      config: testConfig(),
      db: {} as Database,
      logger,
      metrics: createMetrics(),
      live: memoryBus(logger),
    };
    const companyId = randomUUID();
    const ctx = new RequestContext({
      deps,
      actor: { kind: 'user', userId: randomUUID(), companyId, roles: ['admin'], staffId: null },
      companyId,
    });
    const slow = jest.fn();
    const stream = liveStream(
      {
        ctx,
        live: {
          beforeDeliver: async () => true,
          slowConsumer: slow,
          delivered: () => undefined,
          maxPendingEvents: 3,
        },
      },
      { kinds: ['appointment'], reloadObject: false, payload: (e) => e },
    );
    const iterator = stream[Symbol.asyncIterator]();
    for (let i = 0; i < 5; i++) {
      await deps.live!.publish({
        kind: 'appointment',
        action: 'CREATED',
        companyId,
        id: randomUUID(),
        at: Date.now(),
      });
    }
    await flush();
    expect(slow).toHaveBeenCalledTimes(1);
    const dropped = (await deps.metrics.liveEventsFiltered.get()).values.find(
      (v) => v.labels.reason === 'slow_consumer',
    );
    expect(dropped?.value).toBe(1);
    // The stream has ended: nothing more is delivered.
    expect(await iterator.next()).toEqual({ done: true, value: undefined });
  });

  test('payloads from the channel are checked: ids only, anything else is dropped', () => {
    const event: LiveEvent = {
      kind: 'call',
      action: 'STARTED',
      companyId: randomUUID(),
      id: randomUUID(),
      staffId: null,
      at: 1,
    };
    expect(decodeEvent(encodeEvent(event))).toEqual(event);
    for (const raw of [
      'not json',
      '{}',
      JSON.stringify(['user', 'CREATED', randomUUID(), randomUUID(), null, 1]),
      JSON.stringify(['call', 'drop table', randomUUID(), randomUUID(), null, 1]),
      JSON.stringify(['call', 'STARTED', "' or 1=1", randomUUID(), null, 1]),
      JSON.stringify(['call', 'STARTED', randomUUID(), randomUUID(), 'x', 1]),
    ]) {
      expect(decodeEvent(raw)).toBeUndefined();
    }
  });
});
