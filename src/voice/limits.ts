import { once } from 'node:events';
import { Redis } from 'ioredis';
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';

/**
 * Per-call limits of the voice agent's function requests: at most `perCall` requests in a call,
 * `perMinute` in any minute and `perFunction` of the same function. Counters live in Redis when
 * REDIS_URL is set, so every server process sees the same counts, and in memory otherwise.
 */
export type CallLimit = 'per_call' | 'per_minute' | 'per_function';

export type LimitVerdict = { allowed: true } | { allowed: false; limit: CallLimit };

export interface CallLimiter {
  /** Counts one request of `fn` in call `callId`, and says whether it may run. */
  take(callId: string, fn: string): Promise<LimitVerdict>;
  close(): Promise<void>;
}

export interface CallLimits {
  perCall: number;
  perMinute: number;
  perFunction: number;
}

/** How long a call's counters are kept: longer than any call. */
const CALL_TTL_SECONDS = 6 * 3600;

export function createCallLimiter(
  limits: CallLimits,
  options: { redisUrl?: string; keyPrefix?: string } = {},
): CallLimiter {
  const prefix = options.keyPrefix ?? 'voice';
  let redis: Redis | undefined;
  const make = (name: string, points: number, duration: number): RateLimiterAbstract => {
    if (options.redisUrl) {
      if (!redis) {
        redis = new Redis(options.redisUrl, { maxRetriesPerRequest: 1, connectTimeout: 2000 });
        // It reconnects by itself; the insurance limiter counts meanwhile.
        redis.on('error', () => undefined);
      }
      return new RateLimiterRedis({
        storeClient: redis,
        keyPrefix: `${prefix}:${name}`,
        points,
        duration,
        // Redis unreachable: count in this process instead of failing the call.
        rejectIfRedisNotReady: true,
        insuranceLimiter: new RateLimiterMemory({
          keyPrefix: `${prefix}:${name}`,
          points,
          duration,
        }),
      });
    }
    return new RateLimiterMemory({ keyPrefix: `${prefix}:${name}`, points, duration });
  };
  const perCall = make('call', limits.perCall, CALL_TTL_SECONDS);
  const perMinute = make('minute', limits.perMinute, 60);
  const perFunction = make('fn', limits.perFunction, CALL_TTL_SECONDS);

  const consume = async (limiter: RateLimiterAbstract, key: string): Promise<boolean> => {
    try {
      await limiter.consume(key, 1);
      return true;
    } catch (err) {
      if (err instanceof RateLimiterRes) return false;
      throw err;
    }
  };

  /**
   * Waits briefly (once) for the first connection, so the counters are shared from the start;
   * later outages go straight to the insurance limiter.
   */
  let first: Promise<void> | undefined;
  const ready = (): Promise<void> | undefined => {
    if (!redis) return undefined;
    const client = redis;
    first ??= (async () => {
      if (client.status === 'ready') return;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        once(client, 'ready').catch(() => undefined),
        new Promise((resolve) => (timer = setTimeout(resolve, 500))),
      ]);
      clearTimeout(timer);
    })();
    return first;
  };

  return {
    async take(callId, fn) {
      await ready();
      // Every request counts on all three, refused or not, so a caller hammering one limit
      // cannot reset another.
      const [call, minute, same] = await Promise.all([
        consume(perCall, callId),
        consume(perMinute, callId),
        consume(perFunction, `${callId}:${fn}`),
      ]);
      if (!call) return { allowed: false, limit: 'per_call' };
      if (!minute) return { allowed: false, limit: 'per_minute' };
      if (!same) return { allowed: false, limit: 'per_function' };
      return { allowed: true };
    },
    async close() {
      if (!redis) return;
      if (redis.status === 'ready') await redis.quit().catch(() => undefined);
      else redis.disconnect();
    },
  };
}
