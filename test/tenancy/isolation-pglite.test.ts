import { execFile } from 'node:child_process';
import path from 'node:path';
import { openDatabase, type Database } from '../../src/db/database';
import { seedDemoData, type SeedSummary } from '../../src/seed/demo';
import { defineIsolationSuite } from './isolation-suite';

/**
 * The tenant isolation proof on embedded PGlite, the database a developer gets without
 * DATABASE_URL; the demo seed runs first, so the proof also holds beside other tenants' data.
 *
 * PGlite's CommonJS build loads Node built-ins with dynamic import(), which jest's module sandbox
 * allows only when Node runs with --experimental-vm-modules. Without that flag this file runs
 * itself again in a child jest process that has it, and passes or fails with it.
 */
const VM_MODULES_FLAG = '--experimental-vm-modules';
const hasVmModules =
  process.execArgv.includes(VM_MODULES_FLAG) ||
  (process.env.NODE_OPTIONS ?? '').split(/\s+/).includes(VM_MODULES_FLAG);

if (hasVmModules) {
  let db: Database | undefined;
  let seeded: SeedSummary;
  afterAll(async () => db?.close());

  defineIsolationSuite(async () => {
    const opened = await openDatabase({ pgliteDataDir: 'memory' });
    db = opened;
    await opened.migrate();
    seeded = await seedDemoData(opened);
    console.log(`demo seed on PGlite took ${seeded.durationMs} ms`);
    return {
      db: opened,
      asOwner: (fn) => opened.withOwner(fn),
      // PGlite has exactly one connection.
      singleConnection: async () => ({ db: opened, close: async () => undefined }),
    };
  });

  test('the demo seed ran on PGlite in well under 10 seconds', () => {
    expect(seeded).toMatchObject({ seeded: true, appointments: 117, customers: 60, calls: 100 });
    expect(seeded.durationMs).toBeLessThan(10_000);
  });
} else {
  test('the isolation suite passes on PGlite (in a child jest with --experimental-vm-modules)', async () => {
    const root = path.resolve(__dirname, '../..');
    const result = await new Promise<{ code: number; output: string }>((resolve) => {
      execFile(
        process.execPath,
        [require.resolve('jest/bin/jest'), '--ci', '--runTestsByPath', __filename],
        {
          cwd: root,
          env: {
            ...process.env,
            NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} ${VM_MODULES_FLAG}`.trim(),
          },
          timeout: 300_000,
          maxBuffer: 16 * 1024 * 1024,
        },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
          resolve({ code, output: `${stdout}\n${stderr}` });
        },
      );
    });
    if (result.code !== 0)
      throw new Error(`PGlite isolation suite failed:\n${result.output.slice(-20_000)}`);
    const counts = /Tests:\s+(\d+) passed, (\d+) total/.exec(result.output);
    expect(counts).not.toBeNull();
    const [passed, total] = [Number(counts![1]), Number(counts![2])];
    expect(passed).toBe(total);
    expect(total).toBeGreaterThanOrEqual(14);
    const timing = /demo seed on PGlite took (\d+) ms/.exec(result.output);
    if (timing) console.log(timing[0]);
  }, 320_000);
}
