import { hash, verify } from '@node-rs/argon2';

/**
 * Password hashing with argon2id (OWASP: m=19 MiB, t=2, p=1), about 20-60 ms a hash on these
 * machines: slow enough to make guessing expensive, fast enough for sign-in.
 */
// algorithm 2 is Algorithm.Argon2id (a const enum, which isolated modules cannot read).
const OPTIONS = { algorithm: 2, memoryCost: 19456, timeCost: 2, parallelism: 1 };

export function hashPassword(plain: string): Promise<string> {
  return hash(plain, OPTIONS);
}

/** True when `plain` matches; false for a wrong password or a malformed hash. */
export async function verifyPassword(passwordHash: string, plain: string): Promise<boolean> {
  try {
    return await verify(passwordHash, plain);
  } catch {
    return false;
  }
}
