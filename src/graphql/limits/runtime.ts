import type { AppDeps } from '../../context/deps';
import type { RequestContext } from '../../context/request-context';
import { limitersOf } from '../../security/limits';
import { createLimitHits, type LimitHits } from './limit-metrics';
import { createPointsStore, type BucketState, type PointsStore } from './points-bucket';

/** One bucket an operation is charged to. */
export interface BucketRef {
  /** company, apiToken, platformAdmin or address */
  scope: 'company' | 'apiToken' | 'platformAdmin' | 'address';
  key: string;
  limit: number;
}

/** How often the companies' own limits are read again (changes made by another process). */
export const COMPANY_LIMIT_REFRESH_MS = 60_000;

/** The points buckets and limit counters of one server, shared by the plugin and the resolvers. */
export interface LimitsRuntime {
  store: PointsStore;
  hits: LimitHits;
  /** The buckets a request is charged to. */
  bucketsFor(ctx: RequestContext): Promise<BucketRef[]>;
  /** Takes a company's new limit at once, after a super admin changed it (null: the default). */
  setCompanyLimit(companyId: string, limit: number | null): void;
  /** Reads the companies' own limits; at start and then every minute, never per request. */
  refreshCompanyLimits(): Promise<void>;
  close(): Promise<void>;
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
    limiters: limitersOf(deps),
    windowSeconds: limits.windowSeconds,
    onFailOpen: () => deps.metrics.graphqlBucketFailOpen.inc(),
  });
  // Companies with a limit of their own (a platform setting): a few rows, read in one statement
  // outside any request, so charging an operation never needs SQL.
  let companyLimits = new Map<string, number>();
  const states = new WeakMap<RequestContext, ChargedState>();
  const companyLimit = async (_ctx: RequestContext, companyId: string): Promise<number> =>
    companyLimits.get(companyId) ?? limits.companyPointsPerWindow;
  const refreshCompanyLimits = async () => {
    try {
      const { rows } = (await deps.db.platform.raw(
        'select id, api_points_per_hour from platform_company_api_points()',
      )) as { rows: Array<{ id: string; api_points_per_hour: number }> };
      companyLimits = new Map(rows.map((r) => [r.id, r.api_points_per_hour]));
    } catch (err) {
      deps.logger.warn({ err }, 'could not read the companies’ GraphQL points limits');
    }
  };
  const timer = setInterval(() => void refreshCompanyLimits(), COMPANY_LIMIT_REFRESH_MS);
  timer.unref();

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
    setCompanyLimit(companyId, limit) {
      if (limit === null) companyLimits.delete(companyId);
      else companyLimits.set(companyId, limit);
    },
    refreshCompanyLimits,
    async close() {
      clearInterval(timer);
      runtimes.delete(deps);
      await store.close();
    },
    stateOf: (ctx) => states.get(ctx),
    setState: (ctx, state) => {
      states.set(ctx, state);
    },
  };
  runtimes.set(deps, runtime);
  return runtime;
}
