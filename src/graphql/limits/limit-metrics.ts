import type { Request } from 'express';
import type { AppDeps } from '../../context/deps';
import { verifyAccessToken } from '../../auth/tokens';

/** Counts limit hits in app_graphql_limit_hits_total, by limit and company (capped). */
export interface LimitHits {
  /** A hit before authentication: the company is read from a valid access token, else unknown. */
  count(limit: string, req: Request): void;
  countFor(limit: string, companyId: string | null): void;
}

export function createLimitHits(deps: Pick<AppDeps, 'metrics' | 'config'>): LimitHits {
  const { metrics } = deps;
  const countFor = (limit: string, companyId: string | null) => {
    metrics.graphqlLimitHits.inc({
      limit,
      company_id: companyId ? metrics.graphqlLimitHitCompanies.value(companyId) : 'unknown',
    });
  };
  return {
    countFor,
    count(limit, req) {
      const m = /^Bearer\s+(\S+)$/i.exec(req.header('authorization') ?? '');
      if (!m || m[1].startsWith('vat_')) {
        countFor(limit, null);
        return;
      }
      // Verifying the signature needs no database; only a valid token names a company.
      void verifyAccessToken(deps.config.jwtSecret, m[1])
        .then((claims) => countFor(limit, typeof claims?.cid === 'string' ? claims.cid : null))
        .catch(() => countFor(limit, null));
    },
  };
}
