import type { Redis } from 'ioredis';
import type {
  SignInKeys,
  SignInLimiter,
  SignInLimits,
  SignInReservation,
} from '../sign-in-limiter';

/**
 * The sign-in limiter on Redis, shared by every server process, with the semantics of
 * MemorySignInLimiter (see sign-in-limiter.ts): three keys per attempt (account, pair, address),
 * `limit` failures per key and then locks of base, 2 x base ... up to max, a failure slot reserved
 * before the password is verified, and the owner's usual address exempt from the account key.
 *
 * Check and reservation of all keys run in one Lua script, so they are atomic across processes:
 * however many attempts arrive at once on however many processes, at most `limit` per key get as
 * far as a password verification. Each key is a hash {f: failures, at: time of the last failure}
 * that expires `forgetMs` after its last failure.
 *
 * Redis unreachable: the attempt is counted by the in-process fallback at the same limits (not
 * fail-open, which would lift the limit during an outage, and not fail-closed, which would let a
 * Redis outage lock every user out).
 */
const RESERVE = `
local now = tonumber(ARGV[1])
local base = tonumber(ARGV[5])
local maxms = tonumber(ARGV[6])
local forget = tonumber(ARGV[7])
local checks = {}
if redis.call('EXISTS', KEYS[1]) == 0 then
  table.insert(checks, {2, tonumber(ARGV[2]), 'account'})
end
table.insert(checks, {3, tonumber(ARGV[3]), 'pair'})
table.insert(checks, {4, tonumber(ARGV[4]), 'address'})
local kind = false
local lockedUntil = 0
for _, c in ipairs(checks) do
  local v = redis.call('HMGET', KEYS[c[1]], 'f', 'at')
  local f = tonumber(v[1])
  local at = tonumber(v[2])
  if f and at and now - at < forget and f >= c[2] then
    local until_ = at + math.min(base * 2 ^ math.min(f - c[2], 30), maxms)
    if until_ > now and until_ > lockedUntil then
      lockedUntil = until_
      kind = c[3]
    end
  end
end
if kind then
  return {0, kind, lockedUntil - now}
end
local taken = {}
for _, c in ipairs(checks) do
  local key = KEYS[c[1]]
  local v = redis.call('HMGET', key, 'f', 'at')
  local f = tonumber(v[1]) or 0
  local at = tonumber(v[2])
  if at and now - at >= forget then f = 0 end
  redis.call('HSET', key, 'f', f + 1, 'at', now)
  redis.call('PEXPIRE', key, forget)
  table.insert(taken, c[3])
end
return {1, table.concat(taken, ',')}
`;

const SUCCEEDED = `
for kind in string.gmatch(ARGV[1], '[^,]+') do
  if kind == 'address' then
    local f = tonumber(redis.call('HGET', KEYS[4], 'f'))
    if f and f > 0 then redis.call('HSET', KEYS[4], 'f', f - 1) end
  elseif kind == 'account' then
    redis.call('DEL', KEYS[2])
  else
    redis.call('DEL', KEYS[3])
  end
end
redis.call('SET', KEYS[1], '1', 'PX', ARGV[2])
return 1
`;

interface Reserved {
  store: 'redis';
  keys: SignInKeys;
  taken: string;
}

type Allowed = SignInReservation & { allowed: true };

export class RedisSignInLimiter implements SignInLimiter {
  private readonly forgetMs: number;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly limits: SignInLimits,
    private readonly options: {
      fallback: SignInLimiter;
      ready?: () => Promise<void>;
      onDegraded?: (err: unknown) => void;
      now?: () => number;
    },
  ) {
    // As in memory: never shorter than twice the longest lock.
    this.forgetMs = Math.max(limits.forgetMs, 2 * limits.maxMs);
  }

  private redisKeys(keys: SignInKeys): string[] {
    const pair = `${keys.account}\u0000${keys.address}`;
    return [
      `${this.prefix}:k:${pair}`,
      `${this.prefix}:a:${keys.account}`,
      `${this.prefix}:p:${pair}`,
      `${this.prefix}:i:${keys.address}`,
    ];
  }

  async reserve(keys: SignInKeys): Promise<SignInReservation> {
    const now = (this.options.now ?? Date.now)();
    const l = this.limits;
    let result: [number, string, number?];
    try {
      await this.options.ready?.();
      result = (await this.redis.eval(
        RESERVE,
        4,
        ...this.redisKeys(keys),
        now,
        l.accountLimit,
        l.pairLimit,
        l.addressLimit,
        l.baseMs,
        l.maxMs,
        this.forgetMs,
      )) as [number, string, number?];
    } catch (err) {
      this.options.onDegraded?.(err);
      return this.options.fallback.reserve(keys);
    }
    if (result[0] === 1) {
      const token: Reserved = { store: 'redis', keys, taken: result[1] };
      return { allowed: true, token };
    }
    return {
      allowed: false,
      key: result[1] as 'account' | 'pair' | 'address',
      retryAfterSeconds: Math.max(1, Math.ceil(Number(result[2]) / 1000)),
    };
  }

  async succeeded(reservation: Allowed): Promise<void> {
    const token = reservation.token as Reserved | undefined;
    if (token?.store !== 'redis') return this.options.fallback.succeeded(reservation);
    try {
      await this.redis.eval(
        SUCCEEDED,
        4,
        ...this.redisKeys(token.keys),
        token.taken,
        this.limits.knownPairMs,
      );
    } catch (err) {
      // The reserved failures stay counted until forgotten: stricter, never looser.
      this.options.onDegraded?.(err);
    }
  }

  async failed(reservation: Allowed): Promise<void> {
    const token = reservation.token as Reserved | undefined;
    if (token?.store !== 'redis') return this.options.fallback.failed(reservation);
    // The failure was counted when the slot was reserved.
  }
}
