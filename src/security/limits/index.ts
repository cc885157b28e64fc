import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import type { AppDeps } from '../../context/deps';
import type { Metrics } from '../../observability/metrics';
import { MemorySignInLimiter, type SignInLimiter, type SignInLimits } from '../sign-in-limiter';
import { RedisSignInLimiter } from './redis-sign-in-limiter';
import { closeLimiterRedis, createLimiterRedis, waitReady } from './redis';

/**
 * Every limiter of the server, on one store: Redis when REDIS_URL is set (one connection owned by
 * the server, every process shares the counts), this process's memory otherwise (the embedded
 * start). Counting is done by rate-limiter-flexible (RateLimiterRedis / RateLimiterMemory); the
 * sign-in limiter needs a reservation across three keys with back-off in one atomic step, which
 * it does with one Redis script on the same connection.
 *
 * When Redis cannot be reached each limiter follows its rule, and never fails the request:
 *
 * | limiter         | Redis unreachable                                                        |
 * | --------------- | ------------------------------------------------------------------------ |
 * | sign_in         | in_process: counted in this process at the same limits                   |
 * | webhook         | fail_open: deliveries pass (they are signed, deduplicated and queued)    |
 * | graphql_points  | fail_open: operations pass unmetered (static limits still apply)         |
 * | voice_*         | in_process: counted in this process at the same limits                   |
 *
 * Every such decision is counted in app_rate_limiter_store_degraded_total{limiter, rule} and
 * logged at most once a minute per limiter.
 */
export type StoreFailureRule = 'fail_open' | 'in_process';

export interface LimiterSpec {
  /** Points a key may spend per window. */
  points: number;
  durationSeconds: number;
  onStoreFailure: StoreFailureRule;
}

export interface LimiterVerdict {
  allowed: boolean;
  /** Milliseconds until the key's window ends. */
  msBeforeNext: number;
  remainingPoints: number;
  /** Set when the shared store could not be reached and the rule decided instead. */
  degraded?: StoreFailureRule;
}

export interface NamedLimiter {
  readonly name: string;
  consume(key: string, points?: number): Promise<LimiterVerdict>;
}

export interface Limiters {
  readonly kind: 'redis' | 'memory';
  /** The shared connection (only with REDIS_URL). */
  readonly redis?: Redis;
  /** The key prefix of a named limiter: `<REDIS_KEY_PREFIX>:<name>`. */
  prefixFor(name: string): string;
  /** A limiter of `points` per window per key, with its rule for an unreachable store. */
  limiter(name: string, spec: LimiterSpec): NamedLimiter;
  /** A bare rate-limiter-flexible counter on the store, for limiters that apply limits per key. */
  counter(name: string, durationSeconds: number): RateLimiterAbstract;
  /** The sign-in limiter (one per server); falls back to in-process counting. */
  signIn(limits: SignInLimits): SignInLimiter;
  /** Counts (and logs, at most once a minute per limiter) a decision taken without the store. */
  degraded(name: string, rule: StoreFailureRule, err: unknown): void;
  /** Resolves once the first connection is up (or after a short wait). */
  ready(): Promise<void>;
  close(): Promise<void>;
}

const DEGRADED_LOG_MS = 60_000;

export interface LimitersOptions {
  redisUrl?: string;
  keyPrefix: string;
  logger: Pick<Logger, 'warn'>;
  metrics?: Pick<Metrics, 'limiterStoreDegraded'>;
}

export function createLimiters(options: LimitersOptions): Limiters {
  const redis = options.redisUrl ? createLimiterRedis(options.redisUrl) : undefined;
  const prefixFor = (name: string) => `${options.keyPrefix}:${name}`;
  const lastLog = new Map<string, number>();
  let first: Promise<void> | undefined;
  let signIn: SignInLimiter | undefined;

  const limiters: Limiters = {
    kind: redis ? 'redis' : 'memory',
    redis,
    prefixFor,
    ready() {
      if (!redis) return Promise.resolve();
      first ??= waitReady(redis);
      return first;
    },
    degraded(name, rule, err) {
      options.metrics?.limiterStoreDegraded.inc({ limiter: name, rule });
      const now = Date.now();
      if (now - (lastLog.get(name) ?? 0) > DEGRADED_LOG_MS) {
        lastLog.set(name, now);
        options.logger.warn(
          { limiter: name, rule, err: err instanceof Error ? err.message : String(err) },
          rule === 'fail_open'
            ? 'limiter store (Redis) unreachable: requests pass unmetered'
            : 'limiter store (Redis) unreachable: counting in this process',
        );
      }
    },
    counter(name, durationSeconds) {
      const base = {
        points: Number.MAX_SAFE_INTEGER,
        duration: durationSeconds,
        keyPrefix: prefixFor(name),
      };
      return redis
        ? new RateLimiterRedis({ ...base, storeClient: redis, rejectIfRedisNotReady: true })
        : new RateLimiterMemory(base);
    },
    limiter(name, spec) {
      const base = {
        points: spec.points,
        duration: spec.durationSeconds,
        keyPrefix: prefixFor(name),
      };
      const memory = new RateLimiterMemory(base);
      const shared = redis
        ? new RateLimiterRedis({ ...base, storeClient: redis, rejectIfRedisNotReady: true })
        : undefined;
      const take = async (
        store: RateLimiterAbstract,
        key: string,
        points: number,
      ): Promise<LimiterVerdict> => {
        try {
          const res = await store.consume(key, points);
          return {
            allowed: true,
            msBeforeNext: res.msBeforeNext,
            remainingPoints: res.remainingPoints,
          };
        } catch (err) {
          if (err instanceof RateLimiterRes) {
            return { allowed: false, msBeforeNext: err.msBeforeNext, remainingPoints: 0 };
          }
          throw err;
        }
      };
      return {
        name,
        async consume(key, points = 1) {
          if (!shared) return take(memory, key, points);
          await limiters.ready();
          try {
            return await take(shared, key, points);
          } catch (err) {
            limiters.degraded(name, spec.onStoreFailure, err);
            if (spec.onStoreFailure === 'fail_open') {
              return {
                allowed: true,
                msBeforeNext: 0,
                remainingPoints: spec.points,
                degraded: 'fail_open',
              };
            }
            return { ...(await take(memory, key, points)), degraded: 'in_process' };
          }
        },
      };
    },
    signIn(limits) {
      signIn ??= redis
        ? new RedisSignInLimiter(redis, prefixFor('sign-in'), limits, {
            fallback: new MemorySignInLimiter(limits),
            ready: () => limiters.ready(),
            onDegraded: (err) => limiters.degraded('sign_in', 'in_process', err),
          })
        : new MemorySignInLimiter(limits);
      return signIn;
    },
    async close() {
      if (redis) await closeLimiterRedis(redis);
    },
  };
  return limiters;
}

const registry = new WeakMap<AppDeps, Limiters>();

/** The limiters of one server (created on first use, closed by `closeLimitersOf`). */
export function limitersOf(deps: AppDeps): Limiters {
  let limiters = registry.get(deps);
  if (!limiters) {
    limiters = createLimiters({
      redisUrl: deps.config.redisUrl,
      keyPrefix: deps.config.redisKeyPrefix,
      logger: deps.logger,
      metrics: deps.metrics,
    });
    registry.set(deps, limiters);
  }
  return limiters;
}

export async function closeLimitersOf(deps: AppDeps): Promise<void> {
  const limiters = registry.get(deps);
  registry.delete(deps);
  await limiters?.close();
}
