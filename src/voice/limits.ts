import { createLimiters, type Limiters } from '../security/limits';

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

/**
 * The limits on the server's limiter store (src/security/limits), with the rule `in_process`:
 * when Redis cannot be reached the counts go on in this process at the same limits, so no call
 * fails. Given a Redis URL instead of the server's limiters, it makes (and closes) its own.
 */
export function createCallLimiter(
  limits: CallLimits,
  options: { limiters?: Limiters; redisUrl?: string; keyPrefix?: string } = {},
): CallLimiter {
  const own = options.limiters
    ? undefined
    : createLimiters({
        redisUrl: options.redisUrl,
        keyPrefix: options.keyPrefix ?? 'voice',
        logger: { warn: () => undefined },
      });
  const limiters = options.limiters ?? own!;
  const make = (name: string, points: number, durationSeconds: number) =>
    limiters.limiter(name, { points, durationSeconds, onStoreFailure: 'in_process' });
  const perCall = make('voice_per_call', limits.perCall, CALL_TTL_SECONDS);
  const perMinute = make('voice_per_minute', limits.perMinute, 60);
  const perFunction = make('voice_per_function', limits.perFunction, CALL_TTL_SECONDS);

  return {
    async take(callId, fn) {
      // Every request counts on all three, refused or not, so a caller hammering one limit
      // cannot reset another.
      const [call, minute, same] = await Promise.all([
        perCall.consume(callId),
        perMinute.consume(callId),
        perFunction.consume(`${callId}:${fn}`),
      ]);
      if (!call.allowed) return { allowed: false, limit: 'per_call' };
      if (!minute.allowed) return { allowed: false, limit: 'per_minute' };
      if (!same.allowed) return { allowed: false, limit: 'per_function' };
      return { allowed: true };
    },
    async close() {
      await own?.close();
    },
  };
}
