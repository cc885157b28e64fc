import { accessSync, constants } from 'node:fs';
import path from 'node:path';

/**
 * Tests that need a system binary (Chromium, promtool, Prometheus, PgBouncer, a second Postgres
 * cluster's tools). On a developer's machine without it they are skipped, with a loud notice and
 * the one command that installs it; under CI=true the binary is required and the tests fail when
 * it is missing (`.ci/run` installs them all).
 */
export interface SystemBinary {
  /** The executable found, or undefined. */
  path?: string;
  /** `test`, or a skipped / failing stand-in when the binary is missing. */
  test: jest.It;
  /** `describe`, or a skipped / failing stand-in when the binary is missing. */
  describe: jest.Describe;
}

const executable = (file: string): boolean => {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/** The first candidate that is executable: absolute paths as given, names looked up on PATH. */
export function findBinary(candidates: Array<string | undefined>): string | undefined {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  for (const candidate of candidates) {
    if (!candidate) continue;
    if (path.isAbsolute(candidate)) {
      if (executable(candidate)) return candidate;
      continue;
    }
    for (const dir of dirs) {
      const full = path.join(dir, candidate);
      if (executable(full)) return full;
    }
  }
  return undefined;
}

const announced = new Set<string>();

export function systemBinary(
  name: string,
  candidates: Array<string | undefined>,
  install: string,
): SystemBinary {
  const found = findBinary(candidates);
  if (found) return { path: found, test, describe };
  const message = `${name} is not installed; install it with: ${install}`;
  if (process.env.CI === 'true') {
    const failing = (title: string) =>
      test(`${title} (needs ${name})`, () => {
        throw new Error(`${message} (required under CI=true)`);
      });
    return {
      test: ((title: string) => failing(title)) as unknown as jest.It,
      describe: ((title: string) =>
        describe(title, () => failing('setup'))) as unknown as jest.Describe,
    };
  }
  if (!announced.has(name)) {
    announced.add(name);
    const line = '!'.repeat(78);
    process.stderr.write(
      `\n${line}\n!! SKIPPED: tests that need ${name}.\n!! ${message}\n!! (under CI=true these tests fail instead)\n${line}\n\n`,
    );
  }
  return { test: test.skip, describe: describe.skip };
}
