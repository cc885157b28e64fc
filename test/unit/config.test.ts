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

const PRODUCTION = {
  NODE_ENV: 'production',
  DATABASE_URL: 'postgres://owner@db/app',
  DATABASE_RUNTIME_URL: 'postgres://app_runtime@db/app',
  DATABASE_PLATFORM_URL: 'postgres://app_platform_client@db/app',
  JWT_SECRET: 'x'.repeat(40),
  METRICS_TOKEN: 'metrics-secret',
  CREDENTIAL_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
};

test('a complete production configuration is accepted', () => {
  const config = loadConfig(PRODUCTION);
  expect(config.introspection).toBe(false);
  expect(config.seedDemoData).toBe(false);
  expect(config.playground).toBe(false);
  expect(config.databaseRuntimeUrl).toBe(PRODUCTION.DATABASE_RUNTIME_URL);
  expect(config.databasePlatformUrl).toBe(PRODUCTION.DATABASE_PLATFORM_URL);
});

test('a real database with NODE_ENV unset and no JWT_SECRET refuses to start', () => {
  // Before: the public development secret signed tokens and demo users were seeded into it.
  const list = problems({ DATABASE_URL: 'postgres://app@db/app' });
  expect(list).toEqual([expect.stringMatching(/JWT_SECRET.*NODE_ENV=development/)]);
  // The command-line tools sign no tokens: migrations may run without it.
  expect(loadConfig({ DATABASE_URL: 'postgres://app@db/app' }, { server: false }).databaseUrl).toBe(
    'postgres://app@db/app',
  );
  // NODE_ENV=test is not development either.
  expect(problems({ NODE_ENV: 'test', DATABASE_URL: 'postgres://app@db/app' })).toEqual([
    expect.stringContaining('JWT_SECRET'),
  ]);
});

test('demo data is seeded only on the embedded database or when asked for', () => {
  expect(loadConfig({}).seedDemoData).toBe(true);
  expect(loadConfig({ NODE_ENV: 'development' }).seedDemoData).toBe(true);
  const real = { DATABASE_URL: 'postgres://app@db/app', JWT_SECRET: 'y'.repeat(40) };
  expect(loadConfig(real).seedDemoData).toBe(false);
  expect(loadConfig({ ...real, NODE_ENV: 'development' }).seedDemoData).toBe(false);
  expect(loadConfig({ ...real, SEED_DEMO_DATA: 'true' }).seedDemoData).toBe(true);
  // An explicit development database may use the development secret, still without demo data.
  const dev = loadConfig({ NODE_ENV: 'development', DATABASE_URL: 'postgres://app@db/app' });
  expect(dev.seedDemoData).toBe(false);
  expect(problems({ ...PRODUCTION, SEED_DEMO_DATA: 'true' })).toEqual([
    expect.stringContaining('SEED_DEMO_DATA'),
  ]);
});

test('production requires separate logins for the runtime and platform roles', () => {
  const { DATABASE_RUNTIME_URL: _r, DATABASE_PLATFORM_URL: _p, ...withoutLogins } = PRODUCTION;
  const list = problems(withoutLogins);
  expect(list).toEqual([
    expect.stringContaining('DATABASE_RUNTIME_URL is required in production'),
    expect.stringContaining('DATABASE_PLATFORM_URL is required in production'),
  ]);
  expect(problems({ ...PRODUCTION, DATABASE_RUNTIME_URL: 'mysql://x' })).toEqual([
    'DATABASE_RUNTIME_URL must be a postgres:// connection string',
  ]);
  expect(problems({ DATABASE_RUNTIME_URL: 'postgres://app_runtime@db/app' })).toEqual([
    expect.stringContaining('need DATABASE_URL'),
  ]);
});

test('TRUST_PROXY=true is refused in production; a hop count or address list is accepted', () => {
  expect(problems({ ...PRODUCTION, TRUST_PROXY: 'true' })).toEqual([
    expect.stringMatching(/^TRUST_PROXY=true is refused in production/),
  ]);
  expect(loadConfig({ ...PRODUCTION, TRUST_PROXY: '1' }).trustProxy).toBe(1);
  expect(loadConfig({ ...PRODUCTION, TRUST_PROXY: '10.0.0.0/8' }).trustProxy).toBe('10.0.0.0/8');
  expect(loadConfig({ NODE_ENV: 'development', TRUST_PROXY: 'true' }).trustProxy).toBe(true);
});

test('the playground is off by default in production and GRAPHQL_PLAYGROUND=true turns it on', () => {
  expect(loadConfig(PRODUCTION).playground).toBe(false);
  expect(loadConfig({ ...PRODUCTION, GRAPHQL_PLAYGROUND: 'true' }).playground).toBe(true);
  expect(loadConfig({ NODE_ENV: 'development' }).playground).toBe(true);
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
