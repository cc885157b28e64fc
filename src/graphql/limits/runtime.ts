import type { AppDeps } from '../../context/deps';
import type { RequestContext } from '../../context/request-context';
import { createLimitHits, type LimitHits } from './limit-metrics';
import { createPointsStore, type BucketState, type PointsStore } from './points-bucket';

/** One bucket an operation is charged to. */
export interface BucketRef {
  /** company, apiToken, platformAdmin or address */
  scope: 'company' | 'apiToken' | 'platformAdmin' | 'address';
  key: string;
  limit: number;
}

/** How long a company's own limit is remembered before it is read again. */
export const COMPANY_LIMIT_TTL_MS = 60_000;

/** The points buckets and limit counters of one server, shared by the plugin and the resolvers. */
export interface LimitsRuntime {
  store: PointsStore;
  hits: LimitHits;
  /** The buckets a request is charged to (a company's own limit is read at most once a minute). */
  bucketsFor(ctx: RequestContext): Promise<BucketRef[]>;
  /** Forgets a company's remembered limit, after a super admin changed it. */
  forgetCompanyLimit(companyId: string): void;
  /** The bucket state charged for the request being served, set by the plugin. */
  stateOf(ctx: RequestContext): ChargedState | undefined;
  setState(ctx: RequestContext, state: ChargedState): void;
}

export interface ChargedState {
  requested: number;
  buckets: Array<BucketRef & BucketState & { failOpen?: boolean }>;
}

const runtimes = new WeakMap<AppDeps, LimitsRuntime>();

export function limitsRuntimeOf(deps: AppDeps): LimitsRuntime {
  const runtime = runtimes.get(deps);
  if (!runtime) throw new Error('GraphQL limits are not set up for this server');
  return runtime;
}

export function createLimitsRuntime(deps: AppDeps): LimitsRuntime {
  const existing = runtimes.get(deps);
  if (existing) return existing;
  const limits = deps.config.graphqlLimits;
  const store = createPointsStore({
    redisUrl: limits.redisUrl,
    keyPrefix: limits.redisKeyPrefix,
    windowSeconds: limits.windowSeconds,
    logger: deps.logger,
    onFailOpen: () => deps.metrics.graphqlBucketFailOpen.inc(),
  });
  const companyLimits = new Map<string, { limit: number | null; until: number }>();
  const states = new WeakMap<RequestContext, ChargedState>();

  const companyLimit = async (ctx: RequestContext, companyId: string): Promise<number> => {
    const cached = companyLimits.get(companyId);
    if (cached && cached.until > Date.now()) {
      return cached.limit ?? limits.companyPointsPerWindow;
    }
    const trx = await ctx.trx();
    const row = (await trx('companies').select('api_points_per_hour').first()) as
      | { api_points_per_hour: number | null }
      | undefined;
    const limit = row?.api_points_per_hour ?? null;
    if (companyLimits.size > 10_000) companyLimits.clear();
    companyLimits.set(companyId, { limit, until: Date.now() + COMPANY_LIMIT_TTL_MS });
    return limit ?? limits.companyPointsPerWindow;
  };

  const runtime: LimitsRuntime = {
    store,
    hits: createLimitHits(deps),
    async bucketsFor(ctx) {
      const { actor } = ctx;
      if (actor.kind === 'platform_admin') {
        return [
          {
            scope: 'platformAdmin',
            key: `admin:${actor.adminId}`,
            limit: limits.companyPointsPerWindow,
          },
        ];
      }
      if (ctx.companyId && (actor.kind === 'user' || actor.kind === 'api_token')) {
        const limit = await companyLimit(ctx, ctx.companyId);
        const company: BucketRef = { scope: 'company', key: `company:${ctx.companyId}`, limit };
        if (actor.kind === 'api_token') {
          return [
            company,
            {
              scope: 'apiToken',
              key: `token:${actor.tokenId}`,
              limit: Math.min(limit, limits.tokenPointsPerWindow),
            },
          ];
        }
        return [company];
      }
      return [
        {
          scope: 'address',
          key: `ip:${ctx.ip ?? 'unknown'}`,
          limit: limits.anonymousPointsPerWindow,
        },
      ];
    },
    forgetCompanyLimit(companyId) {
      companyLimits.delete(companyId);
    },
    stateOf: (ctx) => states.get(ctx),
    setState: (ctx, state) => {
      states.set(ctx, state);
    },
  };
  runtimes.set(deps, runtime);
  return runtime;
}
