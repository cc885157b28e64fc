import {
  DEFAULT_SIGN_IN_LIMITS,
  MemorySignInLimiter,
  type SignInReservation,
} from '../../src/security/sign-in-limiter';

/** The in-memory sign-in limiter on a fake clock: reservation, back-off, usual address, forgetting. */
const limits = {
  ...DEFAULT_SIGN_IN_LIMITS,
  accountLimit: 3,
  pairLimit: 3,
  addressLimit: 10,
  baseMs: 1000,
  maxMs: 8000,
  forgetMs: 60_000,
};

function setup() {
  let now = 1_000_000;
  const limiter = new MemorySignInLimiter(limits, () => now);
  const tick = (ms: number) => {
    now += ms;
  };
  const fail = async (account: string, address: string) => {
    const r = await limiter.reserve({ account, address });
    if (r.allowed) await limiter.failed(r);
    return r;
  };
  return { limiter, tick, fail };
}

const refused = (r: SignInReservation) => (r.allowed ? 0 : r.retryAfterSeconds);

test('reservations are taken before verification: parallel attempts see each other', async () => {
  const { limiter } = setup();
  const all = await Promise.all(
    Array.from({ length: 40 }, () => limiter.reserve({ account: 'a', address: 'x' })),
  );
  expect(all.filter((r) => r.allowed)).toHaveLength(3);
});

test('the lock doubles after each further failure, up to the cap', async () => {
  const { tick, fail } = setup();
  for (let i = 0; i < 3; i += 1) expect((await fail('a', 'x')).allowed).toBe(true);
  const locks: number[] = [];
  for (let i = 0; i < 6; i += 1) {
    const r = await fail('a', 'x');
    locks.push(refused(r));
    tick(refused(r) * 1000);
    expect((await fail('a', 'x')).allowed).toBe(true);
  }
  expect(locks).toEqual([1, 2, 4, 8, 8, 8]);
});

test('a success hands the slot back and clears the account and pair', async () => {
  const { limiter, fail } = setup();
  await fail('a', 'x');
  await fail('a', 'x');
  const r = await limiter.reserve({ account: 'a', address: 'x' });
  expect(r.allowed).toBe(true);
  if (r.allowed) await limiter.succeeded(r);
  for (let i = 0; i < 3; i += 1) expect((await fail('a', 'x')).allowed).toBe(true);
  expect((await fail('a', 'x')).allowed).toBe(false);
});

test('a known pair is not locked out by failures of the account elsewhere', async () => {
  const { limiter, fail } = setup();
  const home = await limiter.reserve({ account: 'a', address: 'home' });
  if (home.allowed) await limiter.succeeded(home);
  for (let i = 0; i < 10; i += 1) await fail('a', `attacker-${i}`);
  expect((await limiter.reserve({ account: 'a', address: 'new-place' })).allowed).toBe(false);
  expect((await limiter.reserve({ account: 'a', address: 'home' })).allowed).toBe(true);
});

test('keys are forgotten after a quiet period', async () => {
  const { limiter, tick, fail } = setup();
  for (let i = 0; i < 5; i += 1) await fail('a', 'x');
  expect((await limiter.reserve({ account: 'a', address: 'x' })).allowed).toBe(false);
  tick(limits.forgetMs);
  expect((await limiter.reserve({ account: 'a', address: 'x' })).allowed).toBe(true);
});
