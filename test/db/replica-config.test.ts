import { ConfigError, loadConfig } from '../../src/config';
import { parseLsn } from '../../src/db/replica';

const problems = (env: NodeJS.ProcessEnv): string[] => {
  try {
    loadConfig(env, { server: false });
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
};

describe('read replica settings', () => {
  test('without DATABASE_REPLICA_URL there is no replica', () => {
    expect(loadConfig({ NODE_ENV: 'development' }).replica).toBeUndefined();
  });

  test('DATABASE_REPLICA_URL with its defaults, and with its own bound and probe interval', () => {
    const base = {
      NODE_ENV: 'development',
      DATABASE_URL: 'postgres://owner@primary/app',
      DATABASE_REPLICA_URL: 'postgres://app_runtime@standby/app',
    };
    expect(loadConfig(base, { server: false }).replica).toEqual({
      url: 'postgres://app_runtime@standby/app',
      maxLagMs: 1000,
      probeIntervalMs: 250,
    });
    expect(
      loadConfig(
        { ...base, DATABASE_REPLICA_MAX_LAG_MS: '5000', DATABASE_REPLICA_PROBE_MS: '500' },
        { server: false },
      ).replica,
    ).toMatchObject({ maxLagMs: 5000, probeIntervalMs: 500 });
  });

  test('a replica without a primary, a bad URL or a bound under two probe intervals is refused', () => {
    expect(
      problems({ NODE_ENV: 'development', DATABASE_REPLICA_URL: 'postgres://r/app' }).join('\n'),
    ).toMatch(/DATABASE_REPLICA_URL needs DATABASE_URL/);
    expect(
      problems({
        NODE_ENV: 'development',
        DATABASE_URL: 'postgres://owner@primary/app',
        DATABASE_REPLICA_URL: 'mysql://r/app',
      }).join('\n'),
    ).toMatch(/DATABASE_REPLICA_URL must be a postgres:\/\/ connection string/);
    expect(
      problems({
        NODE_ENV: 'development',
        DATABASE_URL: 'postgres://owner@primary/app',
        DATABASE_REPLICA_URL: 'postgres://r/app',
        DATABASE_REPLICA_MAX_LAG_MS: '300',
        DATABASE_REPLICA_PROBE_MS: '200',
      }).join('\n'),
    ).toMatch(/DATABASE_REPLICA_MAX_LAG_MS must be at least twice DATABASE_REPLICA_PROBE_MS/);
  });

  test('WAL positions compare as numbers of bytes', () => {
    expect(parseLsn('0/0')).toBe(0n);
    expect(parseLsn('1/0')).toBe(2n ** 32n);
    expect(parseLsn('16/B374D848')).toBe(0x16n * 2n ** 32n + 0xb374d848n);
    expect(parseLsn('0/FFFFFFFF') < parseLsn('1/0')).toBe(true);
  });
});
