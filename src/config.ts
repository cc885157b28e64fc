import { isIP } from 'node:net';
import path from 'node:path';
import {
  DEVELOPMENT_CREDENTIAL_KEYS,
  parseCredentialKeys,
  type CredentialKeyring,
} from './security/credential-crypto';
import { DEFAULT_SIGN_IN_LIMITS, type SignInLimits } from './security/sign-in-limiter';

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
  /** A login of the platform caller role (app_platform_client), for `db.platform`. */
  databasePlatformUrl?: string;
  pgliteDataDir: string;
  dbPoolMax: number;
  jwtSecret: Uint8Array;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  /** Failed sign-in limits per account, (account, address) pair and address, with back-off. */
  signInLimits: SignInLimits;
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
  /**
   * The inbox worker: companies applied side by side (each holds one connection of the platform
   * pool, `DB_POOL_MAX`, while it applies) and events claimed per batch. Concurrency 0: this
   * process applies no events (an API-only process; worker processes elsewhere apply them).
   */
  webhookWorkerConcurrency: number;
  webhookWorkerBatchSize: number;
  /** Source addresses (CIDRs) the voice-agent endpoints accept (VOICE_AGENT_ALLOWED_IPS). */
  voiceAllowedCidrs: string[];
  /** Per-call limits of the voice agent's function requests. */
  voiceLimits: { perCall: number; perMinute: number; perFunction: number };
  /** Redis for the limiters shared across processes (REDIS_URL); in memory without it. */
  redisUrl?: string;
  /**
   * Prefix of every key the limiters write (REDIS_KEY_PREFIX), so several deployments or test
   * runs can share one Redis; each limiter adds its own name after it.
   */
  redisKeyPrefix: string;
  /** Where offboarding writes a company's export (one NDJSON file per table and a manifest). */
  exportDir: string;
  /** How often the retention job runs; 0 turns it off in this process. */
  retentionIntervalMs: number;
  /** Limits of the GraphQL API against expensive or hostile queries; see docs/api-limits.md. */
  graphqlLimits: GraphqlLimitsConfig;
  /**
   * A direct (session-mode) connection string for LISTEN, when a transaction-mode pooler sits in
   * front of DATABASE_URL; see docs/subscriptions.md.
   */
  databaseDirectUrl?: string;
  /** Limits of GraphQL subscriptions over WebSocket; see docs/subscriptions.md. */
  subscriptions: SubscriptionsConfig;
  /** A streaming read replica for read-only GraphQL queries; see docs/scaling.md. */
  replica?: ReplicaConfig;
}

export interface ReplicaConfig {
  /** A login of the runtime role (app_runtime) on the replica (DATABASE_REPLICA_URL). */
  url: string;
  /** Staleness above which reads go to the primary (DATABASE_REPLICA_MAX_LAG_MS). */
  maxLagMs: number;
  /** How often the background probe measures the replica (DATABASE_REPLICA_PROBE_MS). */
  probeIntervalMs: number;
}

export interface SubscriptionsConfig {
  /** Open sockets per company; the next one is closed with 4429. */
  maxSocketsPerCompany: number;
  /** Open sockets per access session or API token. */
  maxSocketsPerToken: number;
  /** How often a socket's token is checked again (revoked, expired, disabled: closed 4401/4403). */
  recheckMs: number;
  /** Server pings to keep idle sockets (and proxies) alive; 0 turns them off. */
  keepAliveMs: number;
  /** Events queued for one subscription before its socket is dropped as a slow consumer. */
  maxPendingEvents: number;
  /** Bytes buffered in one socket before it is dropped as a slow consumer. */
  maxBufferedBytes: number;
}

export interface GraphqlLimitsConfig {
  maxDocumentBytes: number;
  maxTokens: number;
  maxDepth: number;
  maxAliases: number;
  maxDirectives: number;
  /** Highest cost of one operation. */
  maxCost: number;
  /** Points a company may spend per window, unless a super admin set its own limit. */
  companyPointsPerWindow: number;
  /** Points one API token may spend per window (within its company's). */
  tokenPointsPerWindow: number;
  /** Points a caller without a company (sign-in, super admins outside a company) may spend, per address or admin. */
  anonymousPointsPerWindow: number;
  windowSeconds: number;
  /** Per-request statement timeout of the request transaction. */
  statementTimeoutMs: number;
  /** Largest serialized GraphQL response. */
  maxResponseBytes: number;
  /** JSON file mapping sha256 hashes to operation documents (persisted operations). */
  persistedOperationsFile?: string;
  /** Only persisted operations for signed-in users and anonymous callers; API tokens stay free. */
  persistedOperationsOnly: boolean;
  /** Only for the benchmark: serve GraphQL without these limits, to measure them. Refused in production. */
  benchDisable: boolean;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

const DEV_JWT_SECRET = 'development-only-secret-change-me-0123456789';

export interface LoadOptions {
  /**
   * false for the command-line tools (migrate, seed), which sign no tokens: a real database without
   * JWT_SECRET is refused only for the server.
   */
  server?: boolean;
}

export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  options: LoadOptions = {},
): Config {
  const server = options.server ?? true;
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

  // Only an explicit NODE_ENV=development makes a real database a development one: an unset
  // NODE_ENV must not turn a production database into one signed with the public secret.
  const explicitDevelopment = env.NODE_ENV === 'development';
  const pgUrl = (name: string): string | undefined => {
    const value = env[name] || undefined;
    if (value && !/^postgres(ql)?:\/\//.test(value)) {
      problems.push(`${name} must be a postgres:// connection string`);
    }
    return value;
  };
  const databaseUrl = pgUrl('DATABASE_URL');
  const databaseRuntimeUrl = pgUrl('DATABASE_RUNTIME_URL');
  const databasePlatformUrl = pgUrl('DATABASE_PLATFORM_URL');
  if (production && !databaseUrl) {
    problems.push(
      'DATABASE_URL is required in production (the embedded database is for development)',
    );
  }
  if (production && databaseUrl && !databaseRuntimeUrl) {
    problems.push(
      'DATABASE_RUNTIME_URL is required in production: a login that is the app_runtime role itself, so RESET ROLE cannot reach the schema owner (also what a transaction-mode pooler needs)',
    );
  }
  if (production && databaseUrl && !databasePlatformUrl) {
    problems.push(
      'DATABASE_PLATFORM_URL is required in production: a login that is the app_platform_client role itself (sign-in, webhooks and other platform operations use it)',
    );
  }
  if (!databaseUrl && (databaseRuntimeUrl || databasePlatformUrl)) {
    problems.push(
      'DATABASE_RUNTIME_URL and DATABASE_PLATFORM_URL need DATABASE_URL (the schema owner, for migrations)',
    );
  }

  const jwtRaw = env.JWT_SECRET;
  if (production && (!jwtRaw || jwtRaw.length < 32)) {
    problems.push('JWT_SECRET must be set to at least 32 characters in production');
  } else if (jwtRaw !== undefined && jwtRaw.length < 32) {
    problems.push('JWT_SECRET must be at least 32 characters');
  } else if (server && !jwtRaw && databaseUrl && !explicitDevelopment) {
    problems.push(
      'JWT_SECRET is required with DATABASE_URL: tokens would be signed with the public development secret (set NODE_ENV=development explicitly to allow that on a development database)',
    );
  }

  let trustProxy: Config['trustProxy'] = false;
  const trustRaw = env.TRUST_PROXY;
  if (trustRaw) {
    if (/^\d+$/.test(trustRaw)) trustProxy = Number(trustRaw);
    else if (['true', 'false'].includes(trustRaw)) trustProxy = trustRaw === 'true';
    else trustProxy = trustRaw; // a list of addresses or subnets, as Express accepts
  }
  if (production && trustProxy === true) {
    problems.push(
      'TRUST_PROXY=true is refused in production: it trusts any X-Forwarded-For, so a client picks its own address for rate limits; give the number of proxy hops (e.g. 1) or the proxy addresses',
    );
  }

  // Demo users with a published password: only on the embedded database, or when asked for.
  const seedDemoData = bool('SEED_DEMO_DATA', !databaseUrl && nodeEnv === 'development');
  if (production && seedDemoData) {
    problems.push('SEED_DEMO_DATA is refused in production: the demo users have a public password');
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
  const redisUrl = env.REDIS_URL || undefined;
  if (redisUrl && !/^rediss?:\/\//.test(redisUrl)) {
    problems.push('REDIS_URL must be a redis:// or rediss:// URL');
  }
  if (env.GRAPHQL_RATE_LIMIT_KEY_PREFIX) {
    problems.push(
      'GRAPHQL_RATE_LIMIT_KEY_PREFIX is replaced by REDIS_KEY_PREFIX (one prefix for every limiter)',
    );
  }
  const persistedOperationsFile = env.GRAPHQL_PERSISTED_OPERATIONS_FILE || undefined;
  const persistedOperationsOnly = bool('GRAPHQL_PERSISTED_OPERATIONS_ONLY', false);
  if (persistedOperationsOnly && !persistedOperationsFile) {
    problems.push(
      'GRAPHQL_PERSISTED_OPERATIONS_ONLY needs GRAPHQL_PERSISTED_OPERATIONS_FILE (the allowed operations)',
    );
  }
  const benchDisableLimits = bool('BENCH_DISABLE_GRAPHQL_LIMITS', false);
  if (production && benchDisableLimits) {
    problems.push('BENCH_DISABLE_GRAPHQL_LIMITS is refused in production');
  }
  const graphqlLimits: GraphqlLimitsConfig = {
    maxDocumentBytes: int('GRAPHQL_MAX_DOCUMENT_BYTES', 32 * 1024, 1024, 1024 * 1024),
    maxTokens: int('GRAPHQL_MAX_TOKENS', 3000, 100, 100_000),
    maxDepth: int('GRAPHQL_MAX_DEPTH', 12, 2, 100),
    maxAliases: int('GRAPHQL_MAX_ALIASES', 30, 1, 1000),
    maxDirectives: int('GRAPHQL_MAX_DIRECTIVES', 50, 1, 1000),
    maxCost: int('GRAPHQL_MAX_COST', 10_000, 10, 10_000_000),
    companyPointsPerWindow: int('GRAPHQL_COMPANY_POINTS', 500_000, 1, 1_000_000_000),
    tokenPointsPerWindow: int('GRAPHQL_TOKEN_POINTS', 100_000, 1, 1_000_000_000),
    anonymousPointsPerWindow: int('GRAPHQL_ANONYMOUS_POINTS', 5_000, 1, 1_000_000_000),
    windowSeconds: int('GRAPHQL_POINTS_WINDOW_SECONDS', 3600, 1, 86_400),
    statementTimeoutMs: int('GRAPHQL_STATEMENT_TIMEOUT_MS', 10_000, 0, 600_000),
    maxResponseBytes: int('GRAPHQL_MAX_RESPONSE_BYTES', 5 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    persistedOperationsFile,
    persistedOperationsOnly,
    benchDisable: benchDisableLimits,
  };

  const subscriptions: SubscriptionsConfig = {
    maxSocketsPerCompany: int('SUBSCRIPTIONS_MAX_SOCKETS_PER_COMPANY', 500, 1, 1_000_000),
    maxSocketsPerToken: int('SUBSCRIPTIONS_MAX_SOCKETS_PER_TOKEN', 20, 1, 100_000),
    recheckMs: int('SUBSCRIPTIONS_RECHECK_MS', 30_000, 50, 3_600_000),
    keepAliveMs: int('SUBSCRIPTIONS_KEEP_ALIVE_MS', 15_000, 0, 600_000),
    maxPendingEvents: int('SUBSCRIPTIONS_MAX_PENDING_EVENTS', 100, 1, 100_000),
    maxBufferedBytes: int(
      'SUBSCRIPTIONS_MAX_BUFFERED_BYTES',
      1024 * 1024,
      1024,
      1024 * 1024 * 1024,
    ),
  };
  const databaseDirectUrl = pgUrl('DATABASE_DIRECT_URL');
  const replicaUrl = pgUrl('DATABASE_REPLICA_URL');
  if (replicaUrl && !databaseUrl) {
    problems.push('DATABASE_REPLICA_URL needs DATABASE_URL (the primary)');
  }
  const replica: ReplicaConfig | undefined = replicaUrl
    ? {
        url: replicaUrl,
        maxLagMs: int('DATABASE_REPLICA_MAX_LAG_MS', 1000, 50, 600_000),
        probeIntervalMs: int('DATABASE_REPLICA_PROBE_MS', 250, 20, 60_000),
      }
    : undefined;
  if (replica && replica.maxLagMs < replica.probeIntervalMs * 2) {
    problems.push(
      'DATABASE_REPLICA_MAX_LAG_MS must be at least twice DATABASE_REPLICA_PROBE_MS (the lag is known to within one probe interval)',
    );
  }

  const metricsPortRaw = env.METRICS_PORT;
  const config: Config = {
    env: nodeEnv as Config['env'],
    port: int('PORT', 4000, 0, 65535),
    host: env.HOST || '127.0.0.1',
    databaseUrl,
    databaseRuntimeUrl,
    databasePlatformUrl,
    databaseDirectUrl,
    replica,
    subscriptions,
    pgliteDataDir: env.PGLITE_DATA_DIR || path.resolve('.data', 'pglite'),
    dbPoolMax: int('DB_POOL_MAX', 10, 1, 200),
    jwtSecret: new TextEncoder().encode(jwtRaw || DEV_JWT_SECRET),
    accessTokenTtlSeconds: int('ACCESS_TOKEN_TTL_SECONDS', 900, 30, 86400),
    refreshTokenTtlSeconds: int('REFRESH_TOKEN_TTL_SECONDS', 30 * 86400, 300, 365 * 86400),
    signInLimits: {
      ...DEFAULT_SIGN_IN_LIMITS,
      accountLimit: int('LOGIN_FAILURES_PER_ACCOUNT', DEFAULT_SIGN_IN_LIMITS.accountLimit, 1, 1000),
      pairLimit: int('LOGIN_FAILURES_PER_PAIR', DEFAULT_SIGN_IN_LIMITS.pairLimit, 1, 1000),
      addressLimit: int(
        'LOGIN_FAILURES_PER_ADDRESS',
        DEFAULT_SIGN_IN_LIMITS.addressLimit,
        1,
        100000,
      ),
      baseMs: int('LOGIN_BACKOFF_BASE_MS', DEFAULT_SIGN_IN_LIMITS.baseMs, 1, 3_600_000),
      maxMs: int('LOGIN_BACKOFF_MAX_MS', DEFAULT_SIGN_IN_LIMITS.maxMs, 1, 86_400_000),
    },
    introspection: bool('GRAPHQL_INTROSPECTION', !production),
    playground: bool('GRAPHQL_PLAYGROUND', !production),
    trustProxy,
    metricsToken: env.METRICS_TOKEN || undefined,
    metricsPort: metricsPortRaw ? int('METRICS_PORT', 0, 1, 65535) : undefined,
    logLevel: env.LOG_LEVEL || (nodeEnv === 'test' ? 'silent' : 'info'),
    seedDemoData,
    benchDisableShield,
    benchDisableTenantFilter,
    retellApiKeys: list('RETELL_API_KEYS'),
    credentialKeys,
    allowUnsignedWebhooks,
    webhookBodyLimitBytes: int('WEBHOOK_BODY_LIMIT_BYTES', 1024 * 1024, 1024, 50 * 1024 * 1024),
    webhookRateLimitPerMinute: int('WEBHOOK_RATE_LIMIT_PER_MINUTE', 60, 1, 100000),
    webhookWorkerConcurrency: int('WEBHOOK_WORKER_CONCURRENCY', 4, 0, 32),
    webhookWorkerBatchSize: int('WEBHOOK_WORKER_BATCH_SIZE', 500, 1, 500),
    graphqlLimits,
    exportDir: env.EXPORT_DIR || path.resolve('.data', 'exports'),
    retentionIntervalMs: int('RETENTION_INTERVAL_MS', 3600_000, 0, 7 * 86400_000),
    voiceAllowedCidrs: voiceCidrs(list('VOICE_AGENT_ALLOWED_IPS'), problems),
    voiceLimits: {
      perCall: int('VOICE_CALL_MAX_REQUESTS', 50, 1, 100000),
      perMinute: int('VOICE_CALL_MAX_PER_MINUTE', 20, 1, 100000),
      perFunction: int('VOICE_CALL_MAX_PER_FUNCTION', 10, 1, 100000),
    },
    redisUrl,
    redisKeyPrefix: env.REDIS_KEY_PREFIX || 'app',
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
