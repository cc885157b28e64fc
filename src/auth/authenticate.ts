import type { Request } from 'express';
import { ANONYMOUS, type Actor } from '../context/actor';
import type { AppDeps } from '../context/deps';
import { AppError } from '../errors/app-error';
import { ActivityLog, ApiToken } from '../models';
import { inTenantTransaction } from '../tenancy/tenant-binding';
import { parseApiToken, verifyAccessToken } from './tokens';
import { SCOPES } from './permissions';
import { assertCompanyActive } from '../companies/lifecycle.service';

export interface Authentication {
  actor: Actor;
  /** The company the request acts in, or null (anonymous, or a super admin who chose none). */
  companyId: string | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const API_TOKEN_TOUCH_MS = 60_000;

/**
 * Authenticates a request from its `Authorization: Bearer` header: a JWT access token (users and
 * super admins) or a personal API token (`vat_...`). No header means anonymous. A bad token is
 * UNAUTHENTICATED, never silently anonymous.
 *
 * `X-Company-Id` names the company to act in. Only a super admin may name one (every such request
 * is written to that company's activity log and counted); anyone else naming a company that is not
 * theirs is refused and counted as a cross-tenant attempt.
 */
export async function authenticateRequest(deps: AppDeps, req: Request): Promise<Authentication> {
  const header = req.header('authorization');
  const requested = req.header('x-company-id')?.trim() || undefined;
  if (requested !== undefined && !UUID.test(requested)) {
    throw new AppError('BAD_USER_INPUT', 'X-Company-Id must be a company id', {
      field: 'X-Company-Id',
    });
  }
  if (!header) {
    if (requested) throw new AppError('UNAUTHENTICATED', 'Sign in to choose a company');
    return { actor: ANONYMOUS, companyId: null };
  }
  const m = /^Bearer\s+(\S+)$/i.exec(header);
  if (!m) {
    deps.metrics.authFailures.inc({ reason: 'malformed_header' });
    throw new AppError('UNAUTHENTICATED', 'Invalid authorization header');
  }
  const token = m[1];
  const auth = token.startsWith('vat_')
    ? await authenticateApiToken(deps, token)
    : await authenticateAccessToken(deps, token);
  // A suspended company's users and API tokens are refused on every request.
  if (auth.actor.kind !== 'platform_admin' && auth.companyId) {
    await assertCompanyActive(deps, auth.companyId);
  }

  if (requested) {
    const companyId = requested.toLowerCase();
    if (auth.actor.kind === 'platform_admin') {
      await recordSuperAdminSwitch(deps, auth.actor.adminId, companyId, req);
      return { actor: auth.actor, companyId };
    }
    if (companyId !== auth.companyId) {
      deps.metrics.crossTenantAttempts.inc({ path: 'company_header' });
      deps.logger.warn({ requestId: (req as { id?: string }).id }, 'cross-tenant company refused');
      throw new AppError('FORBIDDEN', 'Not allowed to act in that company');
    }
  }
  return auth;
}

async function authenticateAccessToken(deps: AppDeps, token: string): Promise<Authentication> {
  const claims = await verifyAccessToken(deps.config.jwtSecret, token);
  if (!claims) {
    deps.metrics.authFailures.inc({ reason: 'invalid_access_token' });
    throw new AppError('UNAUTHENTICATED', 'Invalid or expired access token');
  }
  if (claims.typ === 'platform_admin') {
    return { actor: { kind: 'platform_admin', adminId: claims.sub }, companyId: null };
  }
  const companyId = claims.cid as string;
  return {
    actor: {
      kind: 'user',
      userId: claims.sub,
      companyId,
      roles: claims.roles ?? [],
      staffId: claims.stf ?? null,
      sessionId: claims.sid,
    },
    companyId,
  };
}

async function authenticateApiToken(deps: AppDeps, token: string): Promise<Authentication> {
  const parsed = parseApiToken(token);
  const fail = (reason: string) => {
    deps.metrics.authFailures.inc({ reason });
    return new AppError('UNAUTHENTICATED', 'Invalid or expired API token');
  };
  if (!parsed) throw fail('malformed_api_token');
  const row = await inTenantTransaction(deps.db.knex, parsed.companyId, async (trx) => {
    const found = await ApiToken.query(trx).findOne({ token_hash: parsed.hash });
    if (!found || found.revokedAt || (found.expiresAt && found.expiresAt <= new Date())) {
      return found ? { invalid: true as const } : undefined;
    }
    // last_used_at is kept to the minute so a busy token does not write on every request.
    if (!found.lastUsedAt || Date.now() - found.lastUsedAt.getTime() > API_TOKEN_TOUCH_MS) {
      await ApiToken.query(trx).findById(found.id).patch({ lastUsedAt: new Date() });
    }
    return found;
  });
  if (!row) throw fail('unknown_api_token');
  if ('invalid' in row) throw fail('revoked_or_expired_api_token');
  const scopes = row.scopes.filter((s): s is (typeof SCOPES)[number] =>
    (SCOPES as readonly string[]).includes(s),
  );
  return {
    actor: { kind: 'api_token', tokenId: row.id, companyId: row.companyId, scopes },
    companyId: row.companyId,
  };
}

/** The audited, counted path by which a super admin acts inside a company. */
async function recordSuperAdminSwitch(
  deps: AppDeps,
  adminId: string,
  companyId: string,
  req: Request,
): Promise<void> {
  const exists = await inTenantTransaction(deps.db.knex, companyId, async (trx) => {
    const company = await trx('companies').first('id');
    if (!company) return false;
    await ActivityLog.query(trx).insert({
      actorType: 'platform_admin',
      actorId: adminId,
      action: 'platform.act_in_company',
      subjectType: 'Company',
      subjectId: companyId,
      details: { method: req.method, path: req.path },
      requestId: (req as { id?: string }).id ?? null,
      ip: req.ip ?? null,
    });
    return true;
  });
  if (!exists) throw new AppError('NOT_FOUND', 'Company not found', { field: 'X-Company-Id' });
  deps.metrics.superAdminTenantSwitches.inc();
  deps.metrics.tenantScopeBypasses.inc({ actor: 'platform_admin' });
}
