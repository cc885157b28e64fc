import { passwordVerifications } from '../../src/auth/password';
import { startTestServer, type TestServer } from '../helpers/server';
import { createWorld, PASSWORD, type World } from '../helpers/world';

/**
 * Failed sign-ins are limited per account, per (account, address) pair and per address, with
 * exponential back-off, and the failure slot is reserved before the password is verified. The
 * servers here trust X-Forwarded-For so each request can come from an address of its choosing.
 * Most tests use locks long enough that none runs out while a burst of parallel requests arrives
 * on a busy machine; the back-off test has a server of its own with short locks, so nothing sleeps
 * long.
 */
let s: TestServer;
let w: World;

const LIMITS = {
  accountLimit: 5,
  pairLimit: 3,
  addressLimit: 8,
  baseMs: 30_000,
  maxMs: 120_000,
  forgetMs: 600_000,
  knownPairMs: 3_600_000,
};
const FAST = { ...LIMITS, baseMs: 500, maxMs: 4000 };

const LOGIN = `mutation($e: String!, $p: String!) {
  login(input: { email: $e, password: $p }) { accessToken }
}`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function attempt(email: string, password: string, address: string, server = s) {
  const res = await server.gql(
    LOGIN,
    { e: email, p: password },
    { headers: { 'x-forwarded-for': address } },
  );
  return {
    ok: Boolean(res.data?.login?.accessToken),
    code: res.errors?.[0]?.extensions?.code as string | undefined,
    retryAfter: res.errors?.[0]?.extensions?.details?.retryAfterSeconds as number | undefined,
    header: res.headers.get('retry-after'),
  };
}

async function addUser(email: string): Promise<void> {
  await s.t.superuser('users').insert({
    company_id: w.a.id,
    email,
    name: email,
    password_hash: (await s.t.superuser('users').where({ id: w.a.users.admin.id }).first())
      .password_hash,
    roles: ['staff'],
  });
}

beforeAll(async () => {
  s = await startTestServer({ trustProxy: true, signInLimits: LIMITS });
  w = await createWorld(s);
});
afterAll(async () => s.close());

describe('race-free reservation', () => {
  test('40 parallel wrong passwords from 40 addresses cost at most the account limit of verifications', async () => {
    const email = 'parallel@alpha.test';
    await addUser(email);
    const before = passwordVerifications.count;
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => attempt(email, `wrong-${i}`, `10.40.0.${i + 1}`)),
    );
    const verifications = passwordVerifications.count - before;
    expect(verifications).toBe(LIMITS.accountLimit);
    expect(results.filter((r) => r.code === 'UNAUTHENTICATED')).toHaveLength(verifications);
    const limited = results.filter((r) => r.code === 'RATE_LIMITED');
    expect(limited).toHaveLength(40 - verifications);
    for (const r of limited) {
      expect(r.retryAfter).toBeGreaterThanOrEqual(1);
      expect(r.header).toBe(String(r.retryAfter));
    }
  });

  test('40 parallel wrong passwords from one address cost at most the pair limit', async () => {
    const email = 'parallel2@alpha.test';
    await addUser(email);
    const before = passwordVerifications.count;
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => attempt(email, `wrong-${i}`, '10.41.0.1')),
    );
    const verifications = passwordVerifications.count - before;
    expect(verifications).toBe(LIMITS.pairLimit);
    expect(results.filter((r) => r.code === 'RATE_LIMITED')).toHaveLength(40 - verifications);
  });
});

describe('back-off', () => {
  let fast: TestServer;
  let fastWorld: World;
  beforeAll(async () => {
    fast = await startTestServer({ trustProxy: true, signInLimits: FAST });
    fastWorld = await createWorld(fast);
  });
  afterAll(async () => fast.close());

  test('after the limit the lock doubles instead of a flat 15 minutes, super admins included', async () => {
    const email = fastWorld.superAdmin.email;
    const from = '10.42.0.1';
    const tryIt = (password: string) => attempt(email, password, from, fast);
    for (let i = 0; i < FAST.pairLimit; i += 1) {
      expect((await tryIt(`wrong-${i}`)).code).toBe('UNAUTHENTICATED');
    }
    // Locked for baseMs (500 ms): a retry at once is refused, even with the right password.
    const locked = await tryIt(PASSWORD);
    expect(locked.code).toBe('RATE_LIMITED');
    expect(locked.retryAfter).toBe(1);
    expect(locked.header).toBe('1');
    await sleep(FAST.baseMs + 100);
    // One more try is allowed; it fails, and the lock doubles to 1 s.
    expect((await tryIt('wrong-again')).code).toBe('UNAUTHENTICATED');
    const t0 = Date.now();
    expect((await tryIt(PASSWORD)).code).toBe('RATE_LIMITED');
    await sleep(Math.max(0, t0 + FAST.baseMs + 100 - Date.now()));
    // Past the first lock's length but inside the doubled one: still refused.
    expect((await tryIt(PASSWORD)).code).toBe('RATE_LIMITED');
    await sleep(Math.max(0, t0 + 2 * FAST.baseMs + 150 - Date.now()));
    expect((await tryIt(PASSWORD)).ok).toBe(true);
  });

  test('a 15-minute lock is not what the first failures after the limit cost', async () => {
    const email = fastWorld.a.users.admin.email;
    for (let i = 0; i < FAST.pairLimit; i += 1) await attempt(email, `x-${i}`, '10.48.0.1', fast);
    const locked = await attempt(email, PASSWORD, '10.48.0.1', fast);
    expect(locked.code).toBe('RATE_LIMITED');
    expect(locked.retryAfter).toBeLessThanOrEqual(1);
  });
});

describe('the owner’s usual address', () => {
  test('an attacker elsewhere locks the account but not its owner at their usual address', async () => {
    const email = 'owner@alpha.test';
    await addUser(email);
    const home = '10.43.0.1';
    expect((await attempt(email, PASSWORD, home)).ok).toBe(true);
    // An attacker from many addresses exhausts the account.
    for (let i = 0; i < LIMITS.accountLimit + 3; i += 1) {
      await attempt(email, `guess-${i}`, `10.44.0.${i + 1}`);
    }
    const elsewhere = await attempt(email, PASSWORD, '10.45.0.1');
    expect(elsewhere.code).toBe('RATE_LIMITED');
    // From home the owner still signs in.
    expect((await attempt(email, PASSWORD, home)).ok).toBe(true);
    // Home is still limited on its own: the pair key applies.
    for (let i = 0; i < LIMITS.pairLimit; i += 1) {
      expect((await attempt(email, `typo-${i}`, home)).code).toBe('UNAUTHENTICATED');
    }
    expect((await attempt(email, PASSWORD, home)).code).toBe('RATE_LIMITED');
  });
});

describe('per address', () => {
  test('one address trying many accounts is limited, other addresses are not', async () => {
    const sprayer = '10.46.0.1';
    const codes: (string | undefined)[] = [];
    for (let i = 0; i < LIMITS.addressLimit + 2; i += 1) {
      codes.push((await attempt(`sprayed-${i}@alpha.test`, 'guess', sprayer)).code);
    }
    expect(codes.slice(0, LIMITS.addressLimit)).toEqual(
      Array(LIMITS.addressLimit).fill('UNAUTHENTICATED'),
    );
    expect(codes.slice(LIMITS.addressLimit)).toEqual(['RATE_LIMITED', 'RATE_LIMITED']);
    // Even a real account's right password is refused from that address for now ...
    expect((await attempt(w.a.users.staff.email, PASSWORD, sprayer)).code).toBe('RATE_LIMITED');
    // ... but not from another one.
    expect((await attempt(w.a.users.staff.email, PASSWORD, '10.47.0.1')).ok).toBe(true);
  });
});
