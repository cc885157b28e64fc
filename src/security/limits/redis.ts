import { once } from 'node:events';
import { Redis } from 'ioredis';

/** How long a limiter's Redis call may take before the limiter applies its failure rule. */
export const LIMITER_REDIS_TIMEOUT_MS = 250;

/**
 * The one Redis connection of a server's limiters. Commands are never queued while Redis is
 * unreachable and time out after LIMITER_REDIS_TIMEOUT_MS, so a Redis outage turns into a fast
 * error that each limiter handles by its rule instead of a request waiting on a reconnect.
 */
export function createLimiterRedis(url: string): Redis {
  const client = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: LIMITER_REDIS_TIMEOUT_MS,
    connectTimeout: 2000,
    lazyConnect: false,
  });
  // Connection errors surface as failed commands (handled by each limiter's rule); without a
  // listener ioredis would report them as unhandled. It reconnects by itself.
  client.on('error', () => undefined);
  return client;
}

/** Waits up to `ms` for the first connection, so counting is shared from the first request. */
export async function waitReady(client: Redis, ms = 500): Promise<void> {
  if (client.status === 'ready') return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    once(client, 'ready').catch(() => undefined),
    new Promise((resolve) => (timer = setTimeout(resolve, ms))),
  ]);
  clearTimeout(timer);
}

export async function closeLimiterRedis(client: Redis): Promise<void> {
  if (client.status === 'ready') await client.quit().catch(() => undefined);
  else client.disconnect();
}
