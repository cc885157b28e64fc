/**
 * A token bucket per key (the client address): `limit` requests a window, refilled continuously,
 * so a burst of `limit` is allowed and then one request every window/limit.
 *
 * Used for webhook deliveries (every request takes a token). Failed sign-ins have a limiter of
 * their own with back-off and reservation before verification (`sign-in-limiter.ts`).
 *
 * The buckets live in this process's memory. With several server processes behind a load
 * balancer each process counts on its own, so the effective limit is multiplied by the number of
 * processes; a shared store (Redis) is needed to hold one limit across them.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly perMs: number;
  private lastSweep: number;

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
    /** Upper bound on tracked keys, so a flood of distinct addresses cannot exhaust memory. */
    private readonly maxKeys = 100_000,
  ) {
    this.perMs = limit / windowMs;
    this.lastSweep = now();
  }

  /** Takes one token for `key`; when none is left, says how many seconds until one is. */
  take(key: string): { allowed: true } | { allowed: false; retryAfterSeconds: number } {
    const now = this.now();
    this.sweep(now);
    const bucket = this.buckets.get(key);
    const tokens = bucket
      ? Math.min(this.limit, bucket.tokens + (now - bucket.at) * this.perMs)
      : this.limit;
    if (tokens < 1) {
      if (bucket) {
        bucket.tokens = tokens;
        bucket.at = now;
      }
      return {
        allowed: false,
        retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / this.perMs / 1000)),
      };
    }
    if (!bucket && this.buckets.size >= this.maxKeys) {
      // Map iteration is insertion order: drop the oldest key to make room.
      const oldest = this.buckets.keys().next().value;
      if (oldest !== undefined) this.buckets.delete(oldest);
    }
    this.buckets.set(key, { tokens: tokens - 1, at: now });
    return { allowed: true };
  }

  /** Whether `take` would allow `key` now, without taking a token. */
  peek(key: string): { allowed: true } | { allowed: false; retryAfterSeconds: number } {
    const bucket = this.buckets.get(key);
    if (!bucket) return { allowed: true };
    const tokens = Math.min(this.limit, bucket.tokens + (this.now() - bucket.at) * this.perMs);
    if (tokens >= 1) return { allowed: true };
    return {
      allowed: false,
      retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / this.perMs / 1000)),
    };
  }

  /** Forgets `key`, as after a successful sign-in. */
  reset(key: string): void {
    this.buckets.delete(key);
  }

  /** Buckets that have refilled completely carry no information and are dropped. */
  private sweep(now: number): void {
    if (now - this.lastSweep < this.windowMs) return;
    this.lastSweep = now;
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + (now - bucket.at) * this.perMs >= this.limit) this.buckets.delete(key);
    }
  }

  get size(): number {
    return this.buckets.size;
  }
}
