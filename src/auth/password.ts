import { hash, parseOptions, verify } from '@node-rs/argon2';
import { AppError } from '../errors/app-error';

/**
 * Password hashing with argon2id at OWASP's recommended minimum (m=19 MiB, t=2, p=1): about
 * 10-60 ms a hash on these machines, slow enough to make guessing expensive, fast enough for
 * sign-in, and 19 MiB per concurrent hash keeps a burst of sign-ins from exhausting memory.
 */
export const PASSWORD_HASH_OPTIONS = Object.freeze({
  // Algorithm.Argon2id; the enum is a const enum, which isolated modules cannot read.
  algorithm: 2,
  memoryCost: 19456,
  timeCost: 2,
  parallelism: 1,
});

/**
 * A hash of a random secret that nobody knows, made with the same parameters as real hashes.
 * Sign-in verifies against it when the account does not exist, so an unknown email costs the same
 * time as a wrong password and response times do not reveal which accounts exist. A test checks
 * that its parameters follow PASSWORD_HASH_OPTIONS.
 */
export const DUMMY_HASH =
  '$argon2id$v=19$m=19456,t=2,p=1$8sWuF09gcRZl9wnOCSnW6w$FB8C7VsCDWZ8/QUFC5pcGtjnhL1apgzy3PqeZ11V3Fc';

export function hashPassword(plain: string): Promise<string> {
  return hash(plain, PASSWORD_HASH_OPTIONS);
}

export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 256;

/**
 * The password policy for every new password: 12 to 256 characters (the maximum keeps a huge
 * password from costing much hashing), and no NUL character.
 */
export function checkPasswordPolicy(password: string, field: string): string {
  if (password.length < PASSWORD_MIN_LENGTH || password.length > PASSWORD_MAX_LENGTH) {
    throw new AppError(
      'BAD_USER_INPUT',
      `${field} must be ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters`,
      { field },
    );
  }
  if (password.includes('\u0000')) {
    throw new AppError('BAD_USER_INPUT', `${field} must not contain a NUL character`, { field });
  }
  return password;
}

/** Password verifications made by this process (sign-in and password changes), for tests and metrics. */
export const passwordVerifications = { count: 0 };

/** True when `plain` matches; false for a wrong password or a malformed hash. */
export async function verifyPassword(passwordHash: string, plain: string): Promise<boolean> {
  passwordVerifications.count += 1;
  try {
    return await verify(passwordHash, plain);
  } catch {
    return false;
  }
}

/** Spends the time of one verification and answers false: for sign-in with an unknown email. */
export async function verifyDummy(plain: string): Promise<false> {
  await verifyPassword(DUMMY_HASH, plain);
  return false;
}

/** True when a stored hash was made with other parameters and should be replaced at next sign-in. */
export function needsRehash(passwordHash: string): boolean {
  try {
    const used = parseOptions(passwordHash);
    return (
      Number(used.algorithm) !== PASSWORD_HASH_OPTIONS.algorithm ||
      used.memoryCost !== PASSWORD_HASH_OPTIONS.memoryCost ||
      used.timeCost !== PASSWORD_HASH_OPTIONS.timeCost ||
      used.parallelism !== PASSWORD_HASH_OPTIONS.parallelism
    );
  } catch {
    return true;
  }
}
