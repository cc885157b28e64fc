import { isUuid } from '../domain/ids';
import type { Request } from 'express';
import type { Knex } from 'knex';
import { ANONYMOUS, type Actor } from '../context/actor';
import type { AppDeps } from '../context/deps';
import { USER_ROLES, type UserRole } from '../domain/enums';
import { AppError } from '../errors/app-error';
import { ActivityLog, ApiToken } from '../models';
import { writePlatformAudit } from '../services/platform-audit';
import { inTenantTransaction } from '../tenancy/tenant-binding';
import { parseApiToken, verifyAccessToken, type AccessClaims } from './tokens';
import { SCOPES } from './access';

export interface Authentication {
  actor: Actor;
  /** The company the request acts in, or null (anonymous, or a super admin who chose none). */
  companyId: string | null;
  /**
   * The request's READ ONLY tenant transaction, when the liveness check ran as its first
   * statement (`AuthenticateOptions.openReadTransaction`); the caller owns it from here on.
   */
  transaction?: Knex.Transaction;
}

/** The liveness row of a user's session: status, and the roles and staff member it acts as. */
export interface LivenessRow {
  status: string;
  roles: string[] | null;
  staff_id: string | null;
}

export interface AuthenticateOptions {
  /**
   * For a request that only reads (a GraphQL query): opens the request's READ ONLY transaction,
   * bound to the token's company, with `firstQuery` (the liveness check) in the same round trip,
   * and answers the transaction and that statement's rows. A user's access token is then checked
   * in that transaction, as the runtime role under row level security, instead of by a statement
   * of its own on the platform handle; the check is the same and as immediate (same snapshot as
   * the reads). Without it, or for other credentials, the platform handle checks.
   */
  openReadTransaction?: (
    companyId: string,
    firstQuery: string,
  ) => Promise<{ trx: Knex.Transaction; rows: LivenessRow[] }>;
}

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
export async function authenticateRequest(
  deps: AppDeps,
  req: Request,
  options: AuthenticateOptions = {},
): Promise<Authentication> {
  const header = req.header('authorization');
  const requested = req.header('x-company-id')?.trim() || undefined;
  if (requested !== undefined && !isUuid(requested)) {
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
    : await authenticateAccessToken(deps, token, requested === undefined ? options : {});

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

/** Why a signed access token is no longer accepted, as counted in the auth failure metric. */
const ACCESS_REFUSALS: Record<string, string> = {
  company_archived: 'The company of this account is archived',
  user_disabled: 'This account is disabled',
  unknown_user: 'Invalid or expired access token',
  session_revoked: 'This session has ended; sign in again',
  unknown_company: 'Invalid or expired access token',
  disabled: 'This account is disabled',
  unknown_admin: 'Invalid or expired access token',
};

/**
 * A suspended company's users and API tokens are refused on every request, FORBIDDEN with reason
 * COMPANY_SUSPENDED (super admins are exempt, so they can inspect, export and offboard it). The
 * answer comes from the same statement as the liveness check, not from a second one.
 */
function refuseSuspended(deps: AppDeps): AppError {
  deps.metrics.companySuspendedRefusals.inc();
  return new AppError('FORBIDDEN', 'This company is suspended', {
    details: { reason: 'COMPANY_SUSPENDED' },
  });
}

function refuseAccess(deps: AppDeps, status: string): AppError {
  if (status === 'company_suspended') return refuseSuspended(deps);
  deps.metrics.authFailures.inc({ reason: `access_token_${status}` });
  return new AppError('UNAUTHENTICATED', ACCESS_REFUSALS[status] ?? 'Invalid access token', {
    details: { reason: status.toUpperCase() },
  });
}

/**
 * A valid signature is not enough: one indexed lookup (a SECURITY DEFINER function, since the
 * tenant transaction is not open yet) checks that the session is still live, the user enabled and
 * the company neither archived nor suspended, or that the platform admin still exists and is enabled. Logout,
 * disabling a user, a password change and archiving a company therefore take effect at once. The
 * roles come from the same lookup, so a role change does too.
 */
/** Tokens whose signature was verified, kept this many at most (the oldest goes first). */
const VERIFIED_TOKENS = 2000;

interface Verified {
  claims: AccessClaims;
  /** When the token expires, in milliseconds. */
  expiresMs: number;
}

/** Verified access tokens by their text, per signing secret. */
const verifiedTokens = new WeakMap<Uint8Array, Map<string, Verified>>();

/**
 * The claims of a valid access token. A token's signature is checked once: the same text with the
 * same secret verifies the same way every time, so a repeat only needs the expiry checked again.
 * Nothing but the signature is remembered: the liveness check still runs on every request.
 */
async function verifiedClaims(secret: Uint8Array, token: string): Promise<AccessClaims | null> {
  let cache = verifiedTokens.get(secret);
  const hit = cache?.get(token);
  if (hit) {
    if (hit.expiresMs > Date.now()) return hit.claims;
    cache!.delete(token);
    return null;
  }
  const claims = await verifyAccessToken(secret, token);
  const exp = (claims as { exp?: unknown } | null)?.exp;
  if (!claims || typeof exp !== 'number') return claims;
  if (!cache) verifiedTokens.set(secret, (cache = new Map()));
  if (cache.size >= VERIFIED_TOKENS) {
    const oldest = cache.keys().next();
    if (!oldest.done) cache.delete(oldest.value);
  }
  cache.set(token, { claims, expiresMs: exp * 1000 });
  return claims;
}

async function authenticateAccessToken(
  deps: AppDeps,
  token: string,
  options: AuthenticateOptions = {},
): Promise<Authentication> {
  const claims = await verifiedClaims(deps.config.jwtSecret, token);
  if (!claims) {
    deps.metrics.authFailures.inc({ reason: 'invalid_access_token' });
    throw new AppError('UNAUTHENTICATED', 'Invalid or expired access token');
  }
  if (claims.typ === 'platform_admin') {
    const issuedMs =
      typeof claims.ims === 'number' && Number.isFinite(claims.ims)
        ? claims.ims
        : (claims.iat ?? 0) * 1000;
    const { rows } = (await deps.db.platform.raw(
      'select auth_platform_admin_status(?, ?) as status',
      [claims.sub, new Date(issuedMs)],
    )) as { rows: { status: string }[] };
    const status = rows[0]?.status ?? 'unknown_admin';
    if (status !== 'active') throw refuseAccess(deps, status);
    return { actor: { kind: 'platform_admin', adminId: claims.sub }, companyId: null };
  }
  if (!isUuid(claims.cid) || !claims.sid || !isUuid(claims.sid) || !isUuid(claims.sub)) {
    deps.metrics.authFailures.inc({ reason: 'invalid_access_token' });
    throw new AppError('UNAUTHENTICATED', 'Invalid or expired access token');
  }
  const companyId = claims.cid.toLowerCase();
  let live: LivenessRow | undefined;
  let transaction: Knex.Transaction | undefined;
  if (options.openReadTransaction) {
    const opened = await options.openReadTransaction(
      companyId,
      livenessQuery(companyId, claims.sub.toLowerCase(), claims.sid.toLowerCase()),
    );
    transaction = opened.trx;
    live = opened.rows[0];
  } else {
    const { rows } = (await deps.db.platform.raw('select * from auth_user_access_status(?, ?, ?)', [
      companyId,
      claims.sub,
      claims.sid,
    ])) as { rows: LivenessRow[] };
    live = rows[0];
  }
  const status = live?.status ?? 'unknown_company';
  if (!live || status !== 'active') {
    if (transaction) await transaction.rollback().catch(() => undefined);
    throw refuseAccess(deps, status);
  }
  const roles = (live.roles ?? []).filter((r): r is UserRole =>
    (USER_ROLES as readonly string[]).includes(r),
  );
  return {
    actor: {
      kind: 'user',
      userId: claims.sub,
      companyId,
      roles,
      staffId: live.staff_id,
      sessionId: claims.sid,
    },
    companyId,
    ...(transaction ? { transaction } : {}),
  };
}

/**
 * The liveness check as the runtime role, in a transaction bound to the token's company:
 * `session_access_status` is the SECURITY INVOKER function that `auth_user_access_status` (the
 * platform handle's check) also calls, so both answer by one definition; here row level security
 * limits it to the bound company's rows, which are all it reads. The ids are validated UUIDs,
 * written as literals because the statement travels with BEGIN in one simple query.
 */
function livenessQuery(companyId: string, userId: string, familyId: string): string {
  for (const id of [companyId, userId, familyId]) {
    if (!isUuid(id)) throw new AppError('INTERNAL', 'liveness check needs ids');
  }
  return `select status, roles, staff_id from session_access_status('${companyId}', '${userId}', '${familyId}')`;
}

async function authenticateApiToken(deps: AppDeps, token: string): Promise<Authentication> {
  const parsed = parseApiToken(token);
  const fail = (reason: string) => {
    deps.metrics.authFailures.inc({ reason });
    return new AppError('UNAUTHENTICATED', 'Invalid or expired API token');
  };
  if (!parsed) throw fail('malformed_api_token');
  const row = await inTenantTransaction(deps.db.knex, parsed.companyId, async (trx) => {
    const found = (await ApiToken.query(trx)
      .findOne({ token_hash: parsed.hash })
      .select(
        'api_tokens.*',
        trx.raw(
          '(select c.archived_at is not null from companies c where c.id = api_tokens.company_id) as company_archived',
        ),
        trx.raw(
          '(select c.suspended_at is not null from companies c where c.id = api_tokens.company_id) as company_suspended',
        ),
      )) as (ApiToken & { companyArchived?: boolean; companySuspended?: boolean }) | undefined;
    if (!found || found.revokedAt || (found.expiresAt && found.expiresAt <= new Date())) {
      return found ? { invalid: true as const } : undefined;
    }
    if (found.companyArchived) return { archived: true as const };
    if (found.companySuspended) return { suspended: true as const };
    // last_used_at is kept to the minute so a busy token does not write on every request.
    if (!found.lastUsedAt || Date.now() - found.lastUsedAt.getTime() > API_TOKEN_TOUCH_MS) {
      await ApiToken.query(trx).findById(found.id).patch({ lastUsedAt: new Date() });
    }
    return found;
  });
  if (!row) throw fail('unknown_api_token');
  if ('invalid' in row) throw fail('revoked_or_expired_api_token');
  if ('archived' in row) {
    deps.metrics.authFailures.inc({ reason: 'api_token_company_archived' });
    throw new AppError('UNAUTHENTICATED', 'The company of this API token is archived', {
      details: { reason: 'COMPANY_ARCHIVED' },
    });
  }
  if ('suspended' in row) throw refuseSuspended(deps);
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
  await writePlatformAudit(deps.db.platform, {
    actorType: 'platform_admin',
    actorId: adminId,
    action: 'platform.act_in_company',
    targetCompanyId: companyId,
    details: { method: req.method, path: req.path },
    requestId: (req as { id?: string }).id ?? null,
    ip: req.ip ?? null,
  });
  deps.metrics.superAdminTenantSwitches.inc();
  deps.metrics.tenantScopeBypasses.inc({ actor: 'platform_admin' });
}
