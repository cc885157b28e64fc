import { ConfigError, loadConfig } from '../../src/config';

/** Configuration is validated once at start; each problem names its variable. */
const problems = (env: NodeJS.ProcessEnv): string[] => {
  try {
    loadConfig(env);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
};

test('development defaults start on the embedded database', () => {
  const config = loadConfig({ NODE_ENV: 'development' });
  expect(config.databaseUrl).toBeUndefined();
  expect(config.port).toBe(4000);
  expect(config.seedDemoData).toBe(true);
  expect(config.introspection).toBe(true);
});

test('production refuses unsafe or missing settings, naming each variable', () => {
  const list = problems({
    NODE_ENV: 'production',
    WEBHOOKS_ALLOW_UNSIGNED: 'true',
    BENCH_DISABLE_SHIELD: 'true',
  });
  expect(list.join('\n')).toMatch(/DATABASE_URL/);
  expect(list.join('\n')).toMatch(/JWT_SECRET/);
  expect(list.join('\n')).toMatch(/WEBHOOKS_ALLOW_UNSIGNED/);
  expect(list.join('\n')).toMatch(/BENCH_DISABLE_SHIELD/);
  expect(list.join('\n')).toMatch(/METRICS_TOKEN or METRICS_PORT/);
});

test('a complete production configuration is accepted', () => {
  const config = loadConfig({
    NODE_ENV: 'production',
    DATABASE_URL: 'postgres://app@db/app',
    JWT_SECRET: 'x'.repeat(40),
    METRICS_TOKEN: 'metrics-secret',
    CREDENTIAL_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
  });
  expect(config.introspection).toBe(false);
  expect(config.seedDemoData).toBe(false);
});

test('malformed values are refused with the variable and the value', () => {
  const list = problems({
    PORT: 'eighty',
    DB_POOL_MAX: '0',
    DATABASE_URL: 'mysql://x',
    GRAPHQL_PLAYGROUND: 'maybe',
  });
  expect(list).toEqual(
    expect.arrayContaining([
      expect.stringContaining('PORT'),
      expect.stringContaining('DB_POOL_MAX'),
      expect.stringContaining('DATABASE_URL'),
      expect.stringContaining('GRAPHQL_PLAYGROUND'),
    ]),
  );
});
