import { ConfigError, loadConfig } from '../../src/config';

/** The GraphQL limit settings are validated at start like every other setting. */
const problems = (env: NodeJS.ProcessEnv): string[] => {
  try {
    loadConfig(env);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
};

test('defaults: buckets in memory, documented limits', () => {
  const { graphqlLimits, redisUrl, redisKeyPrefix } = loadConfig({ NODE_ENV: 'test' });
  expect({ redisUrl, redisKeyPrefix }).toEqual({ redisUrl: undefined, redisKeyPrefix: 'app' });
  expect(graphqlLimits).toMatchObject({
    maxCost: 10_000,
    maxDepth: 12,
    maxAliases: 30,
    maxDirectives: 50,
    maxTokens: 3000,
    maxDocumentBytes: 32 * 1024,
    companyPointsPerWindow: 500_000,
    tokenPointsPerWindow: 100_000,
    windowSeconds: 3600,
    statementTimeoutMs: 10_000,
    persistedOperationsOnly: false,
    benchDisable: false,
  });
});

test('invalid limit settings name their variable', () => {
  const list = problems({
    NODE_ENV: 'test',
    REDIS_URL: 'http://127.0.0.1:6379',
    GRAPHQL_MAX_COST: 'lots',
    GRAPHQL_MAX_DEPTH: '0',
    GRAPHQL_PERSISTED_OPERATIONS_ONLY: 'true',
  }).join('\n');
  expect(list).toMatch(/REDIS_URL/);
  expect(list).toMatch(/GRAPHQL_MAX_COST/);
  expect(list).toMatch(/GRAPHQL_MAX_DEPTH/);
  expect(list).toMatch(/GRAPHQL_PERSISTED_OPERATIONS_FILE/);
});

test('switching the limits off is refused in production', () => {
  expect(
    problems({ NODE_ENV: 'production', BENCH_DISABLE_GRAPHQL_LIMITS: 'true' }).join('\n'),
  ).toMatch(/BENCH_DISABLE_GRAPHQL_LIMITS/);
});

test('one Redis URL and one key prefix for every limiter', () => {
  const config = loadConfig({
    NODE_ENV: 'test',
    REDIS_URL: 'redis://127.0.0.1:6379',
    REDIS_KEY_PREFIX: 'tenant-voice',
  });
  expect(config.redisUrl).toBe('redis://127.0.0.1:6379');
  expect(config.redisKeyPrefix).toBe('tenant-voice');
  expect(config.graphqlLimits).not.toHaveProperty('redisUrl');
  // The former GraphQL-only prefix is refused, not silently ignored.
  expect(problems({ NODE_ENV: 'test', GRAPHQL_RATE_LIMIT_KEY_PREFIX: 'x' }).join('\n')).toMatch(
    /REDIS_KEY_PREFIX/,
  );
});
