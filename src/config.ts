import path from 'node:path';

/**
 * Configuration from the environment, validated once at start. An invalid or dangerous setting
 * stops the process with a message naming the variable, instead of failing later on a request.
 */
export interface Config {
  env: 'development' | 'test' | 'production';
  port: number;
  host: string;
  databaseUrl?: string;
  databaseRuntimeUrl?: string;
  pgliteDataDir: string;
  dbPoolMax: number;
  jwtSecret: Uint8Array;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  introspection: boolean;
  playground: boolean;
  /** Express "trust proxy": how many proxy hops in front of the server set X-Forwarded-For. */
  trustProxy: number | boolean | string;
  metricsToken?: string;
  metricsPort?: number;
  logLevel: string;
  seedDemoData: boolean;
  /** Only for the benchmark: serve GraphQL without graphql-shield. Refused in production. */
  benchDisableShield: boolean;
  /** Only for the benchmark: skip the application tenant filter (RLS still applies). Refused in production. */
  benchDisableTenantFilter: boolean;
  retellApiKeys: string[];
  calcomSecrets: string[];
  allowUnsignedWebhooks: boolean;
  webhookBodyLimitBytes: number;
  webhookRateLimitPerMinute: number;
  voiceAgentToken?: string;
  voiceAgentAllowedIps: string[];
  /** Where offboarding writes a company's export (one NDJSON file per table and a manifest). */
  exportDir: string;
  /** How often the retention job runs; 0 turns it off in this process. */
  retentionIntervalMs: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

const DEV_JWT_SECRET = 'development-only-secret-change-me-0123456789';

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const nodeEnv = env.NODE_ENV ?? 'development';
  if (!['development', 'test', 'production'].includes(nodeEnv)) {
    problems.push(`NODE_ENV must be development, test or production (got "${nodeEnv}")`);
  }
  const production = nodeEnv === 'production';

  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name} must be an integer from ${min} to ${max} (got "${raw}")`);
      return fallback;
    }
    return value;
  };
  const bool = (name: string, fallback: boolean): boolean => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    if (['1', 'true', 'yes', 'on'].includes(raw.toLowerCase())) return true;
    if (['0', 'false', 'no', 'off'].includes(raw.toLowerCase())) return false;
    problems.push(`${name} must be true or false (got "${raw}")`);
    return fallback;
  };
  const list = (name: string): string[] =>
    (env[name] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);

  const databaseUrl = env.DATABASE_URL || undefined;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    problems.push('DATABASE_URL must be a postgres:// connection string');
  }
  if (production && !databaseUrl) {
    problems.push(
      'DATABASE_URL is required in production (the embedded database is for development)',
    );
  }

  const jwtRaw = env.JWT_SECRET;
  if (production && (!jwtRaw || jwtRaw.length < 32)) {
    problems.push('JWT_SECRET must be set to at least 32 characters in production');
  } else if (jwtRaw !== undefined && jwtRaw.length < 32) {
    problems.push('JWT_SECRET must be at least 32 characters');
  }

  let trustProxy: Config['trustProxy'] = false;
  const trustRaw = env.TRUST_PROXY;
  if (trustRaw) {
    if (/^\d+$/.test(trustRaw)) trustProxy = Number(trustRaw);
    else if (['true', 'false'].includes(trustRaw)) trustProxy = trustRaw === 'true';
    else trustProxy = trustRaw; // a list of addresses or subnets, as Express accepts
  }

  const benchDisableShield = bool('BENCH_DISABLE_SHIELD', false);
  const benchDisableTenantFilter = bool('BENCH_DISABLE_TENANT_FILTER', false);
  if (production && (benchDisableShield || benchDisableTenantFilter)) {
    problems.push('BENCH_DISABLE_SHIELD and BENCH_DISABLE_TENANT_FILTER are refused in production');
  }
  const allowUnsignedWebhooks = bool('WEBHOOKS_ALLOW_UNSIGNED', false);
  if (production && allowUnsignedWebhooks) {
    problems.push('WEBHOOKS_ALLOW_UNSIGNED is refused in production: webhooks must be signed');
  }

  const metricsPortRaw = env.METRICS_PORT;
  const config: Config = {
    env: nodeEnv as Config['env'],
    port: int('PORT', 4000, 0, 65535),
    host: env.HOST || '127.0.0.1',
    databaseUrl,
    databaseRuntimeUrl: env.DATABASE_RUNTIME_URL || undefined,
    pgliteDataDir: env.PGLITE_DATA_DIR || path.resolve('.data', 'pglite'),
    dbPoolMax: int('DB_POOL_MAX', 10, 1, 200),
    jwtSecret: new TextEncoder().encode(jwtRaw || DEV_JWT_SECRET),
    accessTokenTtlSeconds: int('ACCESS_TOKEN_TTL_SECONDS', 900, 30, 86400),
    refreshTokenTtlSeconds: int('REFRESH_TOKEN_TTL_SECONDS', 30 * 86400, 300, 365 * 86400),
    introspection: bool('GRAPHQL_INTROSPECTION', !production),
    playground: bool('GRAPHQL_PLAYGROUND', true),
    trustProxy,
    metricsToken: env.METRICS_TOKEN || undefined,
    metricsPort: metricsPortRaw ? int('METRICS_PORT', 0, 1, 65535) : undefined,
    logLevel: env.LOG_LEVEL || (nodeEnv === 'test' ? 'silent' : 'info'),
    seedDemoData: bool('SEED_DEMO_DATA', nodeEnv === 'development'),
    benchDisableShield,
    benchDisableTenantFilter,
    retellApiKeys: list('RETELL_API_KEYS'),
    calcomSecrets: list('CALCOM_WEBHOOK_SECRETS'),
    allowUnsignedWebhooks,
    webhookBodyLimitBytes: int('WEBHOOK_BODY_LIMIT_BYTES', 1024 * 1024, 1024, 50 * 1024 * 1024),
    webhookRateLimitPerMinute: int('WEBHOOK_RATE_LIMIT_PER_MINUTE', 60, 1, 100000),
    voiceAgentToken: env.VOICE_AGENT_TOKEN || undefined,
    voiceAgentAllowedIps: list('VOICE_AGENT_ALLOWED_IPS'),
    exportDir: env.EXPORT_DIR || path.resolve('.data', 'exports'),
    retentionIntervalMs: int('RETENTION_INTERVAL_MS', 3600_000, 0, 7 * 86400_000),
  };
  if (production && config.metricsToken === undefined && config.metricsPort === undefined) {
    problems.push('set METRICS_TOKEN or METRICS_PORT in production so /metrics is not public');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** A configuration for tests: development defaults with overrides. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  return { ...loadConfig({ NODE_ENV: 'test' }), ...overrides };
}
