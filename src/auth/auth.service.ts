import { randomUUID } from 'node:crypto';
import type { AppDeps } from '../context/deps';
import type { RequestContext } from '../context/request-context';
import { USER_ROLES, type UserRole } from '../domain/enums';
import { AppError } from '../errors/app-error';
import { ActivityLog, ApiToken, User, UserSession } from '../models';
import { RateLimiter } from '../security/rate-limiter';
import { inTenantTransaction } from '../tenancy/tenant-binding';
import { verifyDummy, verifyPassword } from './password';
import { assertCompanyActive } from '../companies/lifecycle.service';
import { SCOPES, type Scope } from './permissions';
import {
  newApiToken,
  newRefreshToken,
  parseRefreshToken,
  safeEqualHex,
  signAccessToken,
} from './tokens';

export interface TokenPair {
  accessToken: string;
  accessTokenExpiresAt: Date;
  refreshToken: string | null;
  refreshTokenExpiresAt: Date | null;
}

interface LoginCandidate {
  kind: 'user' | 'platform_admin';
  company_id: string | null;
  account_id: string;
  password_hash: string;
  disabled: boolean;
}

const INVALID_CREDENTIALS = 'Invalid email or password';
const FAILURE_WINDOW_MS = 15 * 60 * 1000;

/**
 * Sign-in, token refresh and sign-out. Unknown email, wrong password and disabled account answer
 * the same error after the same work (one argon2 verification), so responses do not reveal which
 * accounts exist. Failures are limited per account and per source address.
 */
export class AuthService {
  private readonly perAccount = new RateLimiter(5, FAILURE_WINDOW_MS);
  private readonly perIp = new RateLimiter(20, FAILURE_WINDOW_MS);

  constructor(private readonly deps: AppDeps) {}

  async login(
    input: { email: string; password: string; companySlug?: string | null },
    meta: { ip?: string; userAgent?: string; requestId?: string },
  ): Promise<TokenPair> {
    const { metrics } = this.deps;
    const email = input.email.trim().toLowerCase();
    const accountKey = `login:${email}`;
    const ipKey = `login-ip:${meta.ip ?? 'unknown'}`;
    for (const [limiter, key] of [
      [this.perAccount, accountKey],
      [this.perIp, ipKey],
    ] as const) {
      const decision = limiter.peek(key);
      if (!decision.allowed) {
        metrics.rateLimitRejections.inc({ limiter: 'login' });
        throw new AppError('RATE_LIMITED', 'Too many failed sign-in attempts; try again later', {
          details: { retryAfterSeconds: decision.retryAfterSeconds },
        });
      }
    }

    // A platform operation: the only lookup by email across companies, through a SECURITY DEFINER
    // function that returns just the candidates' hashes.
    const { rows } = (await this.deps.db.knex.raw(
      'select * from platform_login_candidates(?::citext)',
      [email],
    )) as { rows: LoginCandidate[] };
    let candidates = rows;
    if (input.companySlug) {
      const slug = input.companySlug.toLowerCase();
      const companies = await this.companiesBySlug(candidates, slug);
      candidates = candidates.filter((c) => c.company_id && companies.has(c.company_id));
    }

    let matched: LoginCandidate | undefined;
    for (const candidate of candidates.slice(0, 3)) {
      if (await verifyPassword(candidate.password_hash, input.password)) {
        matched = candidate;
        break;
      }
    }
    if (candidates.length === 0) {
      // Same cost as a real check, so timing does not tell unknown accounts apart.
      await verifyDummy(input.password);
    }
    if (!matched || matched.disabled) {
      this.perAccount.take(accountKey);
      this.perIp.take(ipKey);
      metrics.authFailures.inc({
        reason: !matched ? (candidates.length ? 'wrong_password' : 'unknown_user') : 'disabled',
      });
      throw new AppError('UNAUTHENTICATED', INVALID_CREDENTIALS);
    }
    this.perAccount.reset(accountKey);

    if (matched.kind === 'platform_admin') {
      await this.deps.db.knex.raw('select platform_admin_touch_login(?)', [matched.account_id]);
      const access = await signAccessToken(
        this.deps.config.jwtSecret,
        { sub: matched.account_id, typ: 'platform_admin' },
        this.deps.config.accessTokenTtlSeconds,
      );
      // Platform operators get no refresh token: they sign in again when the access token ends.
      return {
        accessToken: access.token,
        accessTokenExpiresAt: access.expiresAt,
        refreshToken: null,
        refreshTokenExpiresAt: null,
      };
    }

    const companyId = matched.company_id as string;
    await assertCompanyActive(this.deps, companyId);
    return inTenantTransaction(this.deps.db.knex, companyId, async (trx) => {
      const user = await User.query(trx).findById(matched.account_id);
      if (!user) throw new AppError('UNAUTHENTICATED', INVALID_CREDENTIALS);
      await User.query(trx).findById(user.id).patch({ lastLoginAt: new Date() });
      const pair = await this.issueSession(trx, user, randomUUID(), meta);
      await ActivityLog.query(trx).insert({
        actorType: 'user',
        actorId: user.id,
        action: 'auth.login',
        subjectType: 'User',
        subjectId: user.id,
        requestId: meta.requestId ?? null,
        ip: meta.ip ?? null,
      });
      return pair;
    });
  }

  /**
   * Exchanges a refresh token for a new pair. Each refresh token works once: presenting a rotated
   * one again means it was stolen or replayed, and the whole session family is revoked.
   */
  async refresh(
    refreshToken: string,
    meta: { ip?: string; userAgent?: string },
  ): Promise<TokenPair> {
    const parsed = parseRefreshToken(refreshToken);
    const invalid = (reason: string) => {
      this.deps.metrics.authFailures.inc({ reason });
      return new AppError('UNAUTHENTICATED', 'Invalid or expired refresh token');
    };
    if (!parsed) throw invalid('malformed_refresh_token');
    await assertCompanyActive(this.deps, parsed.companyId);
    const outcome = await inTenantTransaction(this.deps.db.knex, parsed.companyId, async (trx) => {
      const session = await UserSession.query(trx).findById(parsed.sessionId).forUpdate();
      if (!session || !safeEqualHex(session.tokenHash, parsed.secretHash)) {
        return { error: 'unknown_refresh_token' } as const;
      }
      if (session.revokedAt || session.expiresAt <= new Date()) {
        return { error: 'expired_refresh_token' } as const;
      }
      if (session.rotatedAt) {
        await UserSession.query(trx)
          .where({ family_id: session.familyId })
          .whereNull('revoked_at')
          .patch({ revokedAt: new Date() });
        return { error: 'refresh_token_reuse' } as const;
      }
      const user = await User.query(trx).findById(session.userId);
      if (!user || user.disabledAt) return { error: 'disabled' } as const;
      await UserSession.query(trx).findById(session.id).patch({ rotatedAt: new Date() });
      return { pair: await this.issueSession(trx, user, session.familyId, meta) };
    });
    if ('error' in outcome) throw invalid(outcome.error as string);
    return outcome.pair;
  }

  /** Revokes the session family of the given refresh token or of the current access token. */
  async logout(ctx: RequestContext, refreshToken?: string | null): Promise<boolean> {
    if (ctx.actor.kind !== 'user') return false; // API tokens are revoked; platform admins have no sessions
    const trx = await ctx.trx();
    let familyId: string | undefined;
    if (refreshToken) {
      const parsed = parseRefreshToken(refreshToken);
      if (parsed && parsed.companyId === ctx.companyId) {
        const s = await UserSession.query(trx).findById(parsed.sessionId);
        if (s && safeEqualHex(s.tokenHash, parsed.secretHash)) familyId = s.familyId;
      }
    } else if (ctx.actor.kind === 'user' && ctx.actor.sessionId) {
      familyId = ctx.actor.sessionId;
    }
    if (!familyId) return false;
    const n = await UserSession.query(trx)
      .where({ family_id: familyId })
      .whereNull('revoked_at')
      .patch({ revokedAt: new Date() });
    await ctx.audit({ action: 'auth.logout', subjectType: 'UserSession', subjectId: familyId });
    return n > 0;
  }

  private async issueSession(
    trx: import('knex').Knex.Transaction,
    user: User,
    familyId: string,
    meta: { ip?: string; userAgent?: string },
  ): Promise<TokenPair> {
    const { config } = this.deps;
    const sessionId = randomUUID();
    const refresh = newRefreshToken(user.companyId, sessionId);
    const refreshExpiresAt = new Date(Date.now() + config.refreshTokenTtlSeconds * 1000);
    await UserSession.query(trx).insert({
      id: sessionId,
      userId: user.id,
      familyId,
      tokenHash: refresh.hash,
      expiresAt: refreshExpiresAt,
      userAgent: meta.userAgent?.slice(0, 300) ?? null,
      ip: meta.ip ?? null,
    });
    const roles = user.roles.filter((r): r is UserRole =>
      (USER_ROLES as readonly string[]).includes(r),
    );
    const access = await signAccessToken(
      config.jwtSecret,
      { sub: user.id, typ: 'user', cid: user.companyId, roles, stf: user.staffId, sid: familyId },
      config.accessTokenTtlSeconds,
    );
    return {
      accessToken: access.token,
      accessTokenExpiresAt: access.expiresAt,
      refreshToken: refresh.token,
      refreshTokenExpiresAt: refreshExpiresAt,
    };
  }

  private async companiesBySlug(candidates: LoginCandidate[], slug: string): Promise<Set<string>> {
    const ids = new Set<string>();
    for (const c of candidates) {
      if (!c.company_id) continue;
      const match = await inTenantTransaction(this.deps.db.knex, c.company_id, (trx) =>
        trx('companies').where({ slug }).first('id'),
      );
      if (match) ids.add(c.company_id);
    }
    return ids;
  }
}

/** Creates a personal API token; the token is returned once and only its hash is stored. */
export async function createApiToken(
  ctx: RequestContext,
  input: { name: string; scopes: string[]; expiresAt?: Date | null },
): Promise<{ token: string; row: ApiToken }> {
  const name = input.name.trim();
  if (name.length < 1 || name.length > 100) {
    throw new AppError('BAD_USER_INPUT', 'name must be 1 to 100 characters', { field: 'name' });
  }
  const unknown = input.scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (input.scopes.length === 0 || unknown.length > 0) {
    throw new AppError(
      'BAD_USER_INPUT',
      `scopes must be a non-empty list of: ${SCOPES.join(', ')}`,
      {
        field: 'scopes',
        details: { unknown },
      },
    );
  }
  if (input.expiresAt && input.expiresAt <= new Date()) {
    throw new AppError('BAD_USER_INPUT', 'expiresAt must be in the future', { field: 'expiresAt' });
  }
  const companyId = ctx.requireCompanyId();
  const { token, hash, prefix } = newApiToken(companyId);
  const trx = await ctx.trx();
  const row = await ApiToken.query(trx).insert({
    name,
    tokenPrefix: prefix,
    tokenHash: hash,
    scopes: [...new Set(input.scopes as Scope[])],
    expiresAt: input.expiresAt ?? null,
    createdByUserId: ctx.actor.kind === 'user' ? ctx.actor.userId : null,
  });
  await ctx.audit({
    action: 'api_token.create',
    subjectType: 'ApiToken',
    subjectId: row.id,
    details: { name, scopes: row.scopes },
  });
  return { token, row };
}

export async function revokeApiToken(ctx: RequestContext, id: string): Promise<ApiToken> {
  const trx = await ctx.trx();
  const row = await ApiToken.query(trx).findById(id);
  if (!row) throw new AppError('NOT_FOUND', 'API token not found', { field: 'id' });
  if (!row.revokedAt) {
    await ApiToken.query(trx).findById(id).patch({ revokedAt: new Date() });
    row.revokedAt = new Date();
    await ctx.audit({ action: 'api_token.revoke', subjectType: 'ApiToken', subjectId: id });
  }
  return row;
}
