/**
 * A fixed-window counter per key, in process memory. One process is what a single server needs;
 * several processes behind a load balancer each count on their own, so the effective limit is
 * multiplied by their number until the counters move to a shared store (Redis).
 */
export interface RateLimitDecision {
  allowed: boolean;
  remaining: number;
  retryAfterSeconds: number;
}

export class RateLimiter {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();
  private lastSweep = 0;

  constructor(
    readonly limit: number,
    readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts one event for `key` and says whether it is within the limit. */
  hit(key: string): RateLimitDecision {
    const decision = this.peek(key);
    const t = this.now();
    const w = this.windows.get(key);
    if (!w || w.resetAt <= t) this.windows.set(key, { count: 1, resetAt: t + this.windowMs });
    else w.count += 1;
    return {
      ...decision,
      allowed: decision.remaining > 0,
      remaining: Math.max(0, decision.remaining - 1),
    };
  }

  /** Whether one more event would be allowed, without counting it. */
  peek(key: string): RateLimitDecision {
    const t = this.now();
    this.sweep(t);
    const w = this.windows.get(key);
    if (!w || w.resetAt <= t) return { allowed: true, remaining: this.limit, retryAfterSeconds: 0 };
    const remaining = Math.max(0, this.limit - w.count);
    return {
      allowed: remaining > 0,
      remaining,
      retryAfterSeconds: Math.max(1, Math.ceil((w.resetAt - t) / 1000)),
    };
  }

  reset(key: string): void {
    this.windows.delete(key);
  }

  private sweep(t: number): void {
    if (t - this.lastSweep < this.windowMs) return;
    this.lastSweep = t;
    for (const [key, w] of this.windows) if (w.resetAt <= t) this.windows.delete(key);
  }
}
