import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Limiters } from '../../security/limits';

/** The state of one points bucket after an operation. */
export interface BucketState {
  limit: number;
  remaining: number;
  /** Seconds until the window ends and the whole limit is available again. */
  resetSeconds: number;
  windowSeconds: number;
}

export interface ConsumeResult extends BucketState {
  allowed: boolean;
  /** The store could not be reached and the operation went through unmetered. */
  failOpen?: boolean;
}

/**
 * Points buckets: each key may spend `limit` points per window. A small interface over
 * rate-limiter-flexible, so other limiters can move onto the same store later.
 */
export interface PointsStore {
  readonly kind: 'redis' | 'memory';
  /** Takes `points` from the bucket; refused (and nothing taken) when fewer are left. */
  consume(key: string, points: number, limit: number): Promise<ConsumeResult>;
  /**
   * Gives back points taken earlier (an operation that cost less than it was charged). Refunds are
   * collected and settled together within a second, or with the key's next charge, so an answer
   * does not pay for a second round trip to Redis.
   */
  refund(key: string, points: number): void;
  peek(key: string, limit: number): Promise<BucketState & { failOpen?: boolean }>;
  close(): Promise<void>;
}

/** How often collected refunds are settled. */
const REFUND_FLUSH_MS = 1000;

export interface PointsStoreOptions {
  /** The server's limiters (src/security/limits): the counter lives on their store. */
  limiters: Limiters;
  windowSeconds: number;
  onFailOpen: () => void;
}

/**
 * A fixed-window points store on the server's limiter store: a rate-limiter-flexible counter in
 * Redis when REDIS_URL is set (every process shares the buckets), in memory otherwise. The
 * counters count points spent in the current window; limits differ per key, so the counter itself
 * never refuses and the limit is applied here. When Redis cannot be reached the bucket fails open
 * (the limiter's rule `graphql_points`): the operation goes through, counted in
 * app_graphql_points_bucket_fail_open_total and app_rate_limiter_store_degraded_total, because a
 * shared cache must not take the API down with it.
 */
export function createPointsStore(options: PointsStoreOptions): PointsStore {
  const { windowSeconds, limiters } = options;
  const limiter: RateLimiterAbstract = limiters.counter('gql-points', windowSeconds);

  const failOpen = (err: unknown, limit: number): ConsumeResult => {
    options.onFailOpen();
    limiters.degraded('graphql_points', 'fail_open', err);
    return {
      allowed: true,
      failOpen: true,
      limit,
      remaining: limit,
      resetSeconds: windowSeconds,
      windowSeconds,
    };
  };
  const state = (res: RateLimiterRes | null, limit: number): BucketState => {
    const consumed = res ? res.consumedPoints : 0;
    return {
      limit,
      remaining: Math.max(0, limit - consumed),
      resetSeconds: res ? Math.max(1, Math.ceil(res.msBeforeNext / 1000)) : windowSeconds,
      windowSeconds,
    };
  };

  const pendingRefunds = new Map<string, number>();
  const settle = async (key: string, points: number) => {
    try {
      await limiter.reward(key, points);
    } catch (err) {
      failOpen(err, 0);
    }
  };
  const flush = () => {
    const due = [...pendingRefunds];
    pendingRefunds.clear();
    for (const [key, points] of due) void settle(key, points);
  };
  const timer = setInterval(flush, REFUND_FLUSH_MS);
  timer.unref();

  return {
    kind: limiters.kind,
    async consume(key, points, limit) {
      await limiters.ready();
      // A refund still pending for this key is settled with this charge, in one call.
      const pending = pendingRefunds.get(key) ?? 0;
      pendingRefunds.delete(key);
      const net = points - pending;
      let res: RateLimiterRes;
      try {
        if (net > 0) res = await limiter.consume(key, net);
        else {
          if (net < 0) await limiter.reward(key, -net);
          res = (await limiter.get(key)) ?? new RateLimiterRes(0, windowSeconds * 1000, 0, true);
        }
      } catch (err) {
        if (err instanceof RateLimiterRes) res = err;
        else return failOpen(err, limit);
      }
      if (res.consumedPoints <= limit) return { allowed: true, ...state(res, limit) };
      // Refused: the points go back, so a refused operation costs nothing.
      try {
        if (net > 0) await limiter.reward(key, points);
      } catch {
        // The window still ends; the bucket is only stricter until then.
      }
      const after = state(res, limit);
      return {
        allowed: false,
        ...after,
        remaining: Math.max(0, limit - (res.consumedPoints - points)),
      };
    },
    refund(key, points) {
      if (points <= 0) return;
      pendingRefunds.set(key, (pendingRefunds.get(key) ?? 0) + points);
    },
    async peek(key, limit) {
      try {
        return state(await limiter.get(key), limit);
      } catch (err) {
        return failOpen(err, limit);
      }
    },
    async close() {
      clearInterval(timer);
      const due = [...pendingRefunds];
      pendingRefunds.clear();
      await Promise.all(due.map(([key, points]) => settle(key, points)));
    },
  };
}
