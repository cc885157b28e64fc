/**
 * The fault suite (`npm run test:faults`): its own Postgres cluster, a built server in child
 * processes, faults under load, exactly-once checks. Kept out of `npm test` (roots differ).
 * @type {import('jest').Config}
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test-faults'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  setupFiles: ['reflect-metadata'],
  testTimeout: 600_000,
  maxWorkers: 1,
  // The suite spawns servers, Postgres and Redis: a handle left behind by a failed scenario must
  // not keep a CI run waiting forever (each is also stopped in afterAll).
  forceExit: true,
};
