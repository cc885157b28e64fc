import pino from 'pino';
import { testConfig, type Config } from '../../src/config';
import type { AppDeps } from '../../src/context/deps';
import type { Database } from '../../src/db/database';
import { createMetrics } from '../../src/observability/metrics';

/**
 * The one way tests build the application's dependencies: a database handle, a test
 * configuration, a silent logger (TEST_LOG_LEVEL to see it) and a fresh metrics registry, so
 * counters never leak from one test's app into another's.
 */
export function testDeps(
  db: Database,
  options: { config?: Config; logger?: AppDeps['logger'] } = {},
): AppDeps {
  return {
    config: options.config ?? testConfig(),
    db,
    logger: options.logger ?? pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    metrics: createMetrics(),
  };
}
