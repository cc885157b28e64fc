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
};
