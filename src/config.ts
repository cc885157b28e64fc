import { isIP } from 'node:net';
import path from 'node:path';
import {
  DEVELOPMENT_CREDENTIAL_KEYS,
  parseCredentialKeys,
  type CredentialKeyring,
} from './security/credential-crypto';

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
  /** Platform-wide Retell API keys (the platform's own Retell account); calls route by agent/number. */
  retellApiKeys: string[];
  /** Keys that seal stored provider secrets (CREDENTIAL_ENCRYPTION_KEYS, first = current). */
  credentialKeys: CredentialKeyring;
  allowUnsignedWebhooks: boolean;
  webhookBodyLimitBytes: number;
  webhookRateLimitPerMinute: number;
  /** Source addresses (CIDRs) the voice-agent endpoints accept (VOICE_AGENT_ALLOWED_IPS). */
  voiceAllowedCidrs: string[];
  /** Per-call limits of the voice agent's function requests. */
  voiceLimits: { perCall: number; perMinute: number; perFunction: number };
  /** Redis for counters shared across processes (REDIS_URL); in memory without it. */
  redisUrl?: string;
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

  if ((env.CALCOM_WEBHOOK_SECRETS ?? '').trim() !== '') {
    problems.push(
      'CALCOM_WEBHOOK_SECRETS is no longer supported: a shared secret cannot tell which company a ' +
        'delivery may touch. Register each Cal.com webhook with its company (createProviderCredential) ' +
        'and point Cal.com at the endpoint URL it returns; then unset the variable',
    );
  }
  const credentialRaw = env.CREDENTIAL_ENCRYPTION_KEYS;
  let credentialKeys = parseCredentialKeys(DEVELOPMENT_CREDENTIAL_KEYS).keyring!;
  if (credentialRaw !== undefined && credentialRaw.trim() !== '') {
    const parsed = parseCredentialKeys(credentialRaw);
    problems.push(...parsed.problems);
    if (parsed.keyring) credentialKeys = parsed.keyring;
  } else if (production) {
    problems.push(
      'CREDENTIAL_ENCRYPTION_KEYS is required in production (kid:base64 of 32 random bytes, first = current)',
    );
  }
  const devKey = parseCredentialKeys(DEVELOPMENT_CREDENTIAL_KEYS).keyring!.keys.get('dev')!;
  if (production && [...credentialKeys.keys.values()].some((k) => k.equals(devKey))) {
    problems.push('CREDENTIAL_ENCRYPTION_KEYS must not contain the development key in production');
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
    credentialKeys,
    allowUnsignedWebhooks,
    webhookBodyLimitBytes: int('WEBHOOK_BODY_LIMIT_BYTES', 1024 * 1024, 1024, 50 * 1024 * 1024),
    webhookRateLimitPerMinute: int('WEBHOOK_RATE_LIMIT_PER_MINUTE', 60, 1, 100000),
    voiceAllowedCidrs: voiceCidrs(list('VOICE_AGENT_ALLOWED_IPS'), problems),
    voiceLimits: {
      perCall: int('VOICE_CALL_MAX_REQUESTS', 50, 1, 100000),
      perMinute: int('VOICE_CALL_MAX_PER_MINUTE', 20, 1, 100000),
      perFunction: int('VOICE_CALL_MAX_PER_FUNCTION', 10, 1, 100000),
    },
    redisUrl: env.REDIS_URL || undefined,
  };
  if (env.VOICE_AGENT_TOKEN) {
    problems.push(
      'VOICE_AGENT_TOKEN is no longer supported: set a per-company voice-agent secret instead',
    );
  }
  if (production && config.metricsToken === undefined && config.metricsPort === undefined) {
    problems.push('set METRICS_TOKEN or METRICS_PORT in production so /metrics is not public');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** Retell's published source address, the default of VOICE_AGENT_ALLOWED_IPS. */
export const RETELL_SOURCE_CIDRS = ['100.20.5.228/32'];

function voiceCidrs(given: string[], problems: string[]): string[] {
  const cidrs = given.length > 0 ? given : RETELL_SOURCE_CIDRS;
  const out: string[] = [];
  for (const raw of cidrs) {
    const [address, bits] = raw.includes('/') ? raw.split('/') : [raw, undefined];
    const family = isIP(address);
    const max = family === 6 ? 128 : 32;
    const prefix = bits === undefined ? max : Number(bits);
    if (family === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > max) {
      problems.push(`VOICE_AGENT_ALLOWED_IPS: "${raw}" is not an address or CIDR`);
      continue;
    }
    out.push(`${address}/${prefix}`);
  }
  return out;
}

/** A configuration for tests: development defaults with overrides. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  return { ...loadConfig({ NODE_ENV: 'test' }), ...overrides };
}
