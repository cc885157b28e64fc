import { findBinary, systemBinary } from '../helpers/system-binary';

/** Tests that need a system binary skip loudly on a developer's machine and fail under CI=true. */
const saved = process.env.CI;
afterEach(() => {
  if (saved === undefined) delete process.env.CI;
  else process.env.CI = saved;
});

test('finds binaries on PATH and by absolute path', () => {
  expect(findBinary(['no-such-binary-here', 'sh'])).toMatch(/\/sh$/);
  expect(findBinary(['/no/such/path', undefined])).toBeUndefined();
});

test('a missing binary skips with a loud notice and its install command', () => {
  delete process.env.CI;
  const written: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string) => (written.push(chunk), true)) as typeof write;
  try {
    const missing = systemBinary('frobnicator', ['no-such-frobnicator'], 'apt-get install -y frob');
    expect(missing.path).toBeUndefined();
    expect(missing.test).toBe(test.skip);
    expect(missing.describe).toBe(describe.skip);
  } finally {
    process.stderr.write = write;
  }
  expect(written.join('')).toMatch(/SKIPPED.*frobnicator[\s\S]*apt-get install -y frob/);
});

test('under CI=true a missing binary is a failing test, not a skip', () => {
  process.env.CI = 'true';
  const missing = systemBinary(
    'frobnicator-ci',
    ['no-such-frobnicator'],
    'apt-get install -y frob',
  );
  expect(missing.test).not.toBe(test.skip);
  expect(missing.describe).not.toBe(describe.skip);
  expect(missing.test).not.toBe(test);
});

test('a present binary runs its tests', () => {
  const sh = systemBinary('sh', ['sh'], 'apt-get install -y dash');
  expect(sh.path).toBeTruthy();
  expect(sh.test).toBe(test);
});
