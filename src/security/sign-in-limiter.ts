/**
 * Limits on failed sign-ins, race-free and with exponential back-off.
 *
 * Three keys are counted for each attempt: the account (the email), the account from this address
 * (the pair) and the address. Each key allows `limit` failures; from then on every further failure
 * locks the key for `baseMs`, 2 x `baseMs`, 4 x `baseMs` ... up to `maxMs`. A key with no failure for
 * `forgetMs` is forgotten.
 *
 * Race-free: `reserve` counts the attempt as a failure *before* the password is verified, in one
 * synchronous step. Parallel attempts therefore see each other's reservations, and however many
 * arrive at once, at most `limit` of them get as far as a password verification. A successful
 * attempt hands its reservation back with `succeeded`.
 *
 * The owner's usual address: a pair that signed in successfully is remembered for `knownPairMs`.
 * From such an address the account-wide key is not applied, only the pair and address keys, so an
 * attacker hammering the account from elsewhere (which locks the account key) does not lock its
 * owner out of their usual address.
 *
 * This implementation keeps its state in this process's memory (the embedded start, and the
 * fallback while Redis is unreachable); `limits/redis-sign-in-limiter.ts` implements the same
 * semantics in Redis, one script per call, for several server processes.
 */
export interface SignInKeys {
  /** The normalised email. */
  account: string;
  /** The client address. */
  address: string;
}

export type SignInReservation =
  | { allowed: true; token: unknown }
  | { allowed: false; retryAfterSeconds: number; key: 'account' | 'pair' | 'address' };

export interface SignInLimiter {
  /** Reserves a failure slot for an attempt, or refuses it with the seconds until a retry. */
  reserve(keys: SignInKeys): Promise<SignInReservation>;
  /** The attempt succeeded: its reservation is handed back and the pair remembered as usual. */
  succeeded(reservation: SignInReservation & { allowed: true }): Promise<void>;
  /** The attempt failed: the reserved failure stands. */
  failed(reservation: SignInReservation & { allowed: true }): Promise<void>;
}

export interface SignInLimits {
  /** Failures allowed per account (from addresses other than a known pair) before back-off. */
  accountLimit: number;
  /** Failures allowed per (account, address) pair. */
  pairLimit: number;
  /** Failures allowed per address, across accounts. */
  addressLimit: number;
  /** The first lock after the limit; each further failure doubles it. */
  baseMs: number;
  /** The longest lock. */
  maxMs: number;
  /** A key without failures for this long is forgotten. */
  forgetMs: number;
  /** How long a successful (account, address) pair counts as the owner's usual address. */
  knownPairMs: number;
}

export const DEFAULT_SIGN_IN_LIMITS: SignInLimits = {
  accountLimit: 5,
  pairLimit: 5,
  addressLimit: 20,
  baseMs: 1000,
  maxMs: 15 * 60_000,
  forgetMs: 60 * 60_000,
  knownPairMs: 30 * 86_400_000,
};

interface KeyState {
  failures: number;
  /** The time of the last reserved failure; the lock runs from here. */
  at: number;
}

type Kind = 'account' | 'pair' | 'address';

interface Reserved {
  keys: SignInKeys;
  taken: Array<{ kind: Kind; key: string }>;
}

export class MemorySignInLimiter implements SignInLimiter {
  private readonly states = new Map<string, KeyState>();
  private readonly knownPairs = new Map<string, number>();
  private lastSweep: number;
  /** Never shorter than twice the longest lock, so a locked key is not forgotten while locked. */
  private readonly forgetMs: number;

  constructor(
    private readonly limits: SignInLimits = DEFAULT_SIGN_IN_LIMITS,
    private readonly now: () => number = Date.now,
    /** Upper bound on tracked keys, so a flood of distinct keys cannot exhaust memory. */
    private readonly maxKeys = 100_000,
  ) {
    this.lastSweep = now();
    this.forgetMs = Math.max(limits.forgetMs, 2 * limits.maxMs);
  }

  async reserve(keys: SignInKeys): Promise<SignInReservation> {
    const now = this.now();
    this.sweep(now);
    const pair = pairKey(keys);
    const known = (this.knownPairs.get(pair) ?? 0) > now;
    const checks: Array<{ kind: Kind; key: string; limit: number }> = [
      { kind: 'pair', key: `p:${pair}`, limit: this.limits.pairLimit },
      { kind: 'address', key: `i:${keys.address}`, limit: this.limits.addressLimit },
    ];
    if (!known) {
      checks.unshift({
        kind: 'account',
        key: `a:${keys.account}`,
        limit: this.limits.accountLimit,
      });
    }
    // Check every key first, then take a slot in each: nothing here awaits, so no other attempt
    // can run between the check and the reservation.
    let refusal: { kind: Kind; until: number } | undefined;
    for (const c of checks) {
      const until = this.lockedUntil(c.key, c.limit, now);
      if (until > now && (!refusal || until > refusal.until)) refusal = { kind: c.kind, until };
    }
    if (refusal) {
      return {
        allowed: false,
        key: refusal.kind,
        retryAfterSeconds: Math.max(1, Math.ceil((refusal.until - now) / 1000)),
      };
    }
    for (const c of checks) {
      const state = this.states.get(c.key);
      if (state) {
        state.failures += 1;
        state.at = now;
      } else {
        this.makeRoom();
        this.states.set(c.key, { failures: 1, at: now });
      }
    }
    const token: Reserved = { keys, taken: checks.map(({ kind, key }) => ({ kind, key })) };
    return { allowed: true, token };
  }

  async succeeded(reservation: SignInReservation & { allowed: true }): Promise<void> {
    const { keys, taken } = reservation.token as Reserved;
    for (const { kind, key } of taken) {
      if (kind === 'address') {
        // Others may share the address: hand back only this attempt's slot.
        const state = this.states.get(key);
        if (state) state.failures = Math.max(0, state.failures - 1);
      } else {
        this.states.delete(key);
      }
    }
    const pair = pairKey(keys);
    this.knownPairs.delete(pair);
    if (this.knownPairs.size >= this.maxKeys) {
      const oldest = this.knownPairs.keys().next().value;
      if (oldest !== undefined) this.knownPairs.delete(oldest);
    }
    this.knownPairs.set(pair, this.now() + this.limits.knownPairMs);
  }

  async failed(_reservation: SignInReservation & { allowed: true }): Promise<void> {
    // The failure was counted when the slot was reserved.
  }

  /** When the key's lock ends (0 when it is not locked). */
  private lockedUntil(key: string, limit: number, now: number): number {
    const state = this.states.get(key);
    if (!state) return 0;
    if (now - state.at >= this.forgetMs) {
      this.states.delete(key);
      return 0;
    }
    if (state.failures < limit) return 0;
    const exponent = Math.min(state.failures - limit, 30);
    return state.at + Math.min(this.limits.baseMs * 2 ** exponent, this.limits.maxMs);
  }

  private makeRoom(): void {
    if (this.states.size < this.maxKeys) return;
    // Map iteration is insertion order: drop the oldest key.
    const oldest = this.states.keys().next().value;
    if (oldest !== undefined) this.states.delete(oldest);
  }

  private sweep(now: number): void {
    if (now - this.lastSweep < this.forgetMs) return;
    this.lastSweep = now;
    for (const [key, state] of this.states) {
      if (now - state.at >= this.forgetMs) this.states.delete(key);
    }
    for (const [key, until] of this.knownPairs) if (until <= now) this.knownPairs.delete(key);
  }

  get size(): number {
    return this.states.size;
  }
}

const pairKey = (keys: SignInKeys): string => `${keys.account}\u0000${keys.address}`;
