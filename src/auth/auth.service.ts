import { randomUUID } from 'node:crypto';
import type { AppDeps } from '../context/deps';
import type { RequestContext } from '../context/request-context';
import { USER_ROLES, type UserRole } from '../domain/enums';
import { AppError } from '../errors/app-error';
import { ActivityLog, ApiToken, User, UserSession } from '../models';
import { limitersOf } from '../security/limits';
import type { SignInLimiter } from '../security/sign-in-limiter';
import { inTenantTransaction } from '../tenancy/tenant-binding';
import type { Knex } from 'knex';
import { checkPasswordPolicy, hashPassword, verifyDummy, verifyPassword } from './password';
import { assertCompanyActive } from '../companies/lifecycle.service';
import { SCOPES, type Scope } from './access';
import {
  newApiToken,
  newRefreshToken,
  parseRefreshToken,
  safeEqualHex,
  signAccessToken,
} from './tokens';
import { writePlatformAudit } from '../services/platform-audit';

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

/**
 * Sign-in, token refresh and sign-out. Unknown email, wrong password and disabled account answer
 * the same error after the same work (one argon2 verification), so responses do not reveal which
 * accounts exist. Failed sign-ins are limited per account, per (account, address) pair and per
 * address, with exponential back-off; a failure slot is reserved before the password is verified.
 */
export class AuthService {
  readonly signInLimiter: SignInLimiter;

  constructor(
    private readonly deps: AppDeps,
    signInLimiter?: SignInLimiter,
  ) {
    this.signInLimiter = signInLimiter ?? limitersOf(deps).signIn(deps.config.signInLimits);
  }

  async login(
    input: { email: string; password: string; companySlug?: string | null },
    meta: { ip?: string; userAgent?: string; requestId?: string },
  ): Promise<TokenPair> {
    const { metrics } = this.deps;
    const email = input.email.trim().toLowerCase();
    const reservation = await this.signInLimiter.reserve({
      account: email,
      address: meta.ip ?? 'unknown',
    });
    if (!reservation.allowed) {
      metrics.rateLimitRejections.inc({ limiter: 'login' });
      throw rateLimited(reservation.retryAfterSeconds);
    }
    let matched: LoginCandidate | undefined;
    try {
      matched = await this.verifyCredentials(email, input);
    } catch (err) {
      await this.signInLimiter.failed(reservation);
      throw err;
    }
    if (!matched) {
      await this.signInLimiter.failed(reservation);
      throw new AppError('UNAUTHENTICATED', INVALID_CREDENTIALS);
    }
    await this.signInLimiter.succeeded(reservation);
    return this.startSession(matched, meta);
  }

  /** The account whose password matches, or undefined (counted as a failure by reason). */
  private async verifyCredentials(
    email: string,
    input: { password: string; companySlug?: string | null },
  ): Promise<LoginCandidate | undefined> {
    const { metrics } = this.deps;
    // A platform operation: the only lookup by email across companies, through a SECURITY DEFINER
    // function that returns just the candidates' hashes.
    const { rows } = (await this.deps.db.platform.raw(
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
      metrics.authFailures.inc({
        reason: !matched ? (candidates.length ? 'wrong_password' : 'unknown_user') : 'disabled',
      });
      return undefined;
    }
    return matched;
  }

  private async startSession(
    matched: LoginCandidate,
    meta: { ip?: string; userAgent?: string; requestId?: string },
  ): Promise<TokenPair> {
    if (matched.kind === 'platform_admin') {
      await this.deps.db.platform.raw('select platform_admin_touch_login(?)', [matched.account_id]);
      await writePlatformAudit(this.deps.db.platform, {
        actorType: 'platform_admin',
        actorId: matched.account_id,
        action: 'platform_admin.sign_in',
        requestId: meta.requestId ?? null,
        ip: meta.ip ?? null,
      });
      const access = await signAccessToken(
        this.deps.config.jwtSecret,
        { sub: matched.account_id, typ: 'platform_admin', ims: Date.now() },
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
      const company = (await trx('companies').first('archived_at')) as
        { archived_at: Date | null } | undefined;
      if (!company || company.archived_at) return { error: 'company_archived' } as const;
      await UserSession.query(trx).findById(session.id).patch({ rotatedAt: new Date() });
      return { pair: await this.issueSession(trx, user, session.familyId, meta) };
    });
    if ('error' in outcome) {
      if (outcome.error === 'company_archived') {
        this.deps.metrics.authFailures.inc({ reason: 'refresh_token_company_archived' });
        throw new AppError('UNAUTHENTICATED', 'The company of this account is archived', {
          details: { reason: 'COMPANY_ARCHIVED' },
        });
      }
      throw invalid(outcome.error as string);
    }
    return outcome.pair;
  }

  /**
   * Revokes the session family of the given refresh token or of the current access token; for a
   * platform admin, every access token issued to them so far.
   */
  async logout(ctx: RequestContext, refreshToken?: string | null): Promise<boolean> {
    if (ctx.actor.kind === 'platform_admin') {
      // Platform admins have no refresh sessions: every access token issued to them until now ends.
      await this.deps.db.platform.raw('select platform_admin_end_sessions(?, ?)', [
        ctx.actor.adminId,
        new Date(),
      ]);
      this.deps.logger.info(
        { requestId: ctx.requestId, actor: ctx.actor.adminId },
        'platform admin signed out',
      );
      return true;
    }
    if (ctx.actor.kind !== 'user') return false; // API tokens are revoked with revokeApiToken
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

  /**
   * Changes the signed-in user's own password. The current password is needed (a stolen access
   * token alone cannot take the account over), and wrong guesses count against the same limits as
   * sign-in. Every other session of the user is revoked; the current one stays.
   */
  async changePassword(
    ctx: RequestContext,
    input: { currentPassword: string; newPassword: string },
  ): Promise<{ revokedSessions: number }> {
    const { actor } = ctx;
    if (actor.kind !== 'user') {
      throw new AppError('FORBIDDEN', 'Only a signed-in user changes their own password', {
        details: { reason: 'NOT_A_USER' },
      });
    }
    const newPassword = checkPasswordPolicy(input.newPassword, 'input.newPassword');
    const trx = await ctx.trx();
    const user = await User.query(trx).findById(actor.userId);
    if (!user) throw new AppError('UNAUTHENTICATED', 'Sign in again');
    const reservation = await this.signInLimiter.reserve({
      account: user.email.toLowerCase(),
      address: ctx.ip ?? 'unknown',
    });
    if (!reservation.allowed) {
      this.deps.metrics.rateLimitRejections.inc({ limiter: 'login' });
      throw rateLimited(reservation.retryAfterSeconds);
    }
    if (!(await verifyPassword(user.passwordHash, input.currentPassword))) {
      await this.signInLimiter.failed(reservation);
      this.deps.metrics.authFailures.inc({ reason: 'wrong_current_password' });
      throw new AppError('BAD_USER_INPUT', 'The current password is wrong', {
        field: 'input.currentPassword',
      });
    }
    await this.signInLimiter.succeeded(reservation);
    if (input.currentPassword === newPassword) {
      throw new AppError('BAD_USER_INPUT', 'The new password must differ from the current one', {
        field: 'input.newPassword',
      });
    }
    return ctx.unitOfWork(async (inner) => {
      await User.query(inner)
        .findById(user.id)
        .patch({ passwordHash: await hashPassword(newPassword) });
      const revokedSessions = await revokeUserSessions(inner, user.id, actor.sessionId);
      await ctx.audit({
        action: 'user.password_change',
        subjectType: 'User',
        subjectId: user.id,
        details: { revokedSessions },
      });
      return { revokedSessions };
    });
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

function rateLimited(retryAfterSeconds: number): AppError {
  return new AppError('RATE_LIMITED', 'Too many failed sign-in attempts; try again later', {
    details: { retryAfterSeconds },
  });
}

/**
 * Revokes every live session (refresh token family) of a user, except `keepFamilyId`. Access
 * tokens of those sessions stop working at once, as each request checks that its session is live.
 */
export async function revokeUserSessions(
  trx: Knex.Transaction,
  userId: string,
  keepFamilyId?: string,
): Promise<number> {
  const q = UserSession.query(trx)
    .where({ user_id: userId })
    .whereNull('revoked_at')
    .whereNull('rotated_at');
  if (keepFamilyId) q.whereNot({ family_id: keepFamilyId });
  const n = await q.patch({ revokedAt: new Date() });
  // Rotated rows of those families are revoked too, so the whole family reads as ended.
  const r = UserSession.query(trx).where({ user_id: userId }).whereNull('revoked_at');
  if (keepFamilyId) r.whereNot({ family_id: keepFamilyId });
  await r.patch({ revokedAt: new Date() });
  return n;
}

export const API_TOKEN_DEFAULT_TTL_DAYS = 90;
export const API_TOKEN_MAX_TTL_DAYS = 365;

/**
 * Creates a personal API token; the token is returned once and only its hash is stored. It expires
 * after 90 days unless `expiresAt` says otherwise (at most a year ahead); `neverExpires` is for
 * admins only.
 */
export async function createApiToken(
  ctx: RequestContext,
  input: { name: string; scopes: string[]; expiresAt?: Date | null; neverExpires?: boolean | null },
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
  const expiresAt = apiTokenExpiry(ctx, input);
  const companyId = ctx.requireCompanyId();
  const { token, hash, prefix } = newApiToken(companyId);
  const trx = await ctx.trx();
  const row = await ApiToken.query(trx).insert({
    name,
    tokenPrefix: prefix,
    tokenHash: hash,
    scopes: [...new Set(input.scopes as Scope[])],
    expiresAt,
    createdByUserId: ctx.actor.kind === 'user' ? ctx.actor.userId : null,
  });
  await ctx.audit({
    action: 'api_token.create',
    subjectType: 'ApiToken',
    subjectId: row.id,
    details: { name, scopes: row.scopes, expiresAt: expiresAt?.toISOString() ?? null },
  });
  return { token, row };
}

function apiTokenExpiry(
  ctx: RequestContext,
  input: { expiresAt?: Date | null; neverExpires?: boolean | null },
): Date | null {
  const now = Date.now();
  if (input.neverExpires) {
    if (input.expiresAt) {
      throw new AppError('BAD_USER_INPUT', 'Give either expiresAt or neverExpires, not both', {
        field: 'neverExpires',
      });
    }
    const admin =
      ctx.actor.kind === 'platform_admin' ||
      (ctx.actor.kind === 'user' && ctx.actor.roles.includes('admin'));
    if (!admin) {
      ctx.deps.metrics.authorizationDenials.inc({ rule: 'api_token_never_expires' });
      throw new AppError('FORBIDDEN', 'Only an admin creates a token that never expires', {
        field: 'neverExpires',
      });
    }
    return null;
  }
  if (!input.expiresAt) return new Date(now + API_TOKEN_DEFAULT_TTL_DAYS * 86_400_000);
  if (Number.isNaN(input.expiresAt.getTime()) || input.expiresAt.getTime() <= now) {
    throw new AppError('BAD_USER_INPUT', 'expiresAt must be in the future', { field: 'expiresAt' });
  }
  if (input.expiresAt.getTime() > now + API_TOKEN_MAX_TTL_DAYS * 86_400_000) {
    throw new AppError(
      'BAD_USER_INPUT',
      `expiresAt must be at most ${API_TOKEN_MAX_TTL_DAYS} days ahead; use neverExpires for a token without expiry`,
      { field: 'expiresAt' },
    );
  }
  return input.expiresAt;
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
