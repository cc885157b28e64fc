import { createHash, randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import type { AppDeps } from '../context/deps';
import type { RequestContext } from '../context/request-context';
import { translateDbError } from '../db/errors';
import { AppError } from '../errors/app-error';
import { ActivityLog, Branch, User, UserInvitation } from '../models';
import { hashPassword } from '../auth/password';
import { actorId, actorType } from '../context/actor';
import { writePlatformAudit } from '../services/platform-audit';
import { requiredText } from '../domain/text';
import { checkTimezone } from '../services/timezone';
import { bindTenant, inTenantTransaction } from '../tenancy/tenant-binding';

/** How long an invitation can be accepted. */
export const INVITATION_TTL_MS = 7 * 24 * 3600_000;
const INVITABLE_ROLES = ['admin', 'manager', 'staff'] as const;
const SLUG = /^[a-z0-9][a-z0-9-]{1,62}$/;
const LOCALE = /^[a-z]{2,3}(-[A-Z]{2})?$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const INVITATION =
  /^inv_([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})_[A-Za-z0-9_-]{43}$/;

export const sha256Hex = (value: string): string =>
  createHash('sha256').update(value).digest('hex');

/** A new invitation token (32 random bytes) naming its company, and the hash that is stored. */
export function newInvitationToken(companyId: string): { token: string; hash: string } {
  const token = `inv_${companyId}_${randomBytes(32).toString('base64url')}`;
  return { token, hash: sha256Hex(token) };
}

/**
 * That a company may be used, checked at sign-in, refresh and invitation acceptance (every other
 * authenticated request gets the same answer from its liveness check, auth_user_access_status or
 * the API token lookup, in the same statement). A suspended company is FORBIDDEN with reason
 * COMPANY_SUSPENDED; one that no longer exists is UNAUTHENTICATED. platform_company_status is a
 * platform function, so it is called through the platform handle.
 */
export async function assertCompanyActive(deps: AppDeps, companyId: string): Promise<void> {
  const { rows } = (await deps.db.platform.raw('select * from platform_company_status(?)', [
    companyId,
  ])) as { rows: { suspended: boolean; archived: boolean }[] };
  const status = rows[0];
  if (!status) {
    deps.metrics.authFailures.inc({ reason: 'company_gone' });
    throw new AppError('UNAUTHENTICATED', 'This company no longer exists');
  }
  if (status.suspended) {
    deps.metrics.companySuspendedRefusals.inc();
    throw new AppError('FORBIDDEN', 'This company is suspended', {
      details: { reason: 'COMPANY_SUSPENDED' },
    });
  }
}

export interface CreateCompanyInput {
  name: string;
  slug: string;
  timezone: string;
  locale?: string | null;
  defaultRegion?: string | null;
  branchName: string;
  adminEmail: string;
}

export interface CompanyRow {
  id: string;
  name: string;
  slug: string;
  timezone: string;
  locale: string;
  default_region: string;
  currency: string;
  suspended_at: Date | null;
  archived_at: Date | null;
  transcript_retention_days: number;
  recording_retention_days: number;
  created_at: Date;
}

function platformAdminId(ctx: RequestContext): string {
  if (ctx.actor.kind !== 'platform_admin') {
    throw new AppError('FORBIDDEN', 'Only a super admin may do this');
  }
  return ctx.actor.adminId;
}

function checkEmail(value: string, field: string): string {
  const email = value.trim().toLowerCase();
  if (email.length > 320 || !EMAIL.test(email)) {
    throw new AppError('BAD_USER_INPUT', `${field} must be an email address`, { field });
  }
  return email;
}

/**
 * Onboards a company in one transaction: the company, its first branch and a single-use invitation
 * for its first admin. Audited on the platform and in the company. Returns the invitation token,
 * which is shown only here. A platform operation: it runs in a transaction of its own on the
 * platform handle (platform_create_company is a platform function, and the request acts in no
 * company), bound to the new company once it exists.
 */
export async function createCompany(
  ctx: RequestContext,
  input: CreateCompanyInput,
): Promise<{ company: CompanyRow; invitation: UserInvitation; token: string }> {
  const adminId = platformAdminId(ctx);
  const name = requiredText(input.name, 'input.name', 200);
  const slug = input.slug.trim().toLowerCase();
  if (!SLUG.test(slug)) {
    throw new AppError(
      'BAD_USER_INPUT',
      'input.slug must be 2 to 63 lowercase letters, digits or dashes',
      { field: 'input.slug' },
    );
  }
  const timezone = checkTimezone(input.timezone, 'input.timezone');
  const locale = input.locale?.trim() || 'de-DE';
  if (!LOCALE.test(locale)) {
    throw new AppError('BAD_USER_INPUT', 'input.locale must look like de-DE', {
      field: 'input.locale',
    });
  }
  const region = (input.defaultRegion?.trim() || 'DE').toUpperCase();
  if (!/^[A-Z]{2}$/.test(region)) {
    throw new AppError('BAD_USER_INPUT', 'input.defaultRegion must be a two-letter region', {
      field: 'input.defaultRegion',
    });
  }
  const branchName = requiredText(input.branchName, 'input.branchName', 200);
  const email = checkEmail(input.adminEmail, 'input.adminEmail');

  try {
    return await ctx.deps.db.platform.transaction(async (trx) => {
      const { rows } = (await trx.raw(
        'select platform_create_company(?, ?::citext, ?, ?, ?) as id',
        [name, slug, timezone, locale, region],
      )) as { rows: { id: string }[] };
      const companyId = rows[0].id;
      await bindTenant(trx, companyId);
      const branch = await Branch.query(trx).insert({ name: branchName, timezone });
      const { invitation, token } = await insertInvitation(trx, companyId, email, ['admin'], {
        type: 'platform_admin',
        id: adminId,
      });
      await ActivityLog.query(trx).insert({
        actorType: 'platform_admin',
        actorId: adminId,
        action: 'company.create',
        subjectType: 'Company',
        subjectId: companyId,
        details: { slug, branchId: branch.id, invitationId: invitation.id },
        requestId: ctx.requestId,
        ip: ctx.ip ?? null,
      });
      await writePlatformAudit(trx, {
        actorType: 'platform_admin',
        actorId: adminId,
        action: 'company.create',
        targetCompanyId: companyId,
        details: { slug, invitationId: invitation.id },
        requestId: ctx.requestId,
        ip: ctx.ip ?? null,
      });
      const company = (await trx('companies').where({ id: companyId }).first()) as CompanyRow;
      return { company, invitation, token };
    });
  } catch (err) {
    translateDbError(err, {
      companies_slug_unique: 'input.slug',
      companies_slug_format: 'input.slug',
      companies_locale_format: 'input.locale',
    });
  }
}

async function insertInvitation(
  trx: Knex.Transaction,
  companyId: string,
  email: string,
  roles: string[],
  by: { type: 'user' | 'platform_admin'; id: string | null },
): Promise<{ invitation: UserInvitation; token: string }> {
  // A new invitation replaces any open one for the same address.
  await UserInvitation.query(trx)
    .where({ email })
    .whereNull('accepted_at')
    .whereNull('revoked_at')
    .patch({ revokedAt: new Date() });
  const { token, hash } = newInvitationToken(companyId);
  const invitation = await UserInvitation.query(trx).insert({
    email,
    roles,
    tokenHash: hash,
    expiresAt: new Date(Date.now() + INVITATION_TTL_MS),
    invitedByType: by.type,
    invitedById: by.id,
  });
  return { invitation, token };
}

/**
 * Invites an admin, manager or staff member into the request's company. Admins (and super admins
 * acting in the company) may invite any role, managers only staff.
 */
export async function inviteUser(
  ctx: RequestContext,
  input: { email: string; roles: string[] },
): Promise<{ invitation: UserInvitation; token: string }> {
  const email = checkEmail(input.email, 'input.email');
  const roles = [...new Set(input.roles)];
  const unknown = roles.filter((r) => !(INVITABLE_ROLES as readonly string[]).includes(r));
  if (roles.length === 0 || unknown.length > 0) {
    throw new AppError(
      'BAD_USER_INPUT',
      `input.roles must be some of: ${INVITABLE_ROLES.join(', ')}`,
      {
        field: 'input.roles',
        details: { unknown },
      },
    );
  }
  const { actor } = ctx;
  const mayGrantAll =
    actor.kind === 'platform_admin' || (actor.kind === 'user' && actor.roles.includes('admin'));
  if (!mayGrantAll && roles.some((r) => r !== 'staff')) {
    ctx.deps.metrics.authorizationDenials.inc({ rule: 'assign_role' });
    throw new AppError('FORBIDDEN', 'Not allowed to invite with these roles', {
      field: 'input.roles',
    });
  }
  const companyId = ctx.requireCompanyId();
  const work = async (trx: Knex.Transaction) => {
    const existing = await User.query(trx).findOne({ email });
    if (existing) {
      throw new AppError('CONFLICT', 'input.email already belongs to a user of this company', {
        field: 'input.email',
      });
    }
    const by =
      actor.kind === 'platform_admin'
        ? { type: 'platform_admin' as const, id: actor.adminId }
        : { type: 'user' as const, id: actor.kind === 'user' ? actor.userId : null };
    const result = await insertInvitation(trx, companyId, email, roles, by);
    await ActivityLog.query(trx).insert({
      actorType: actorType(actor),
      actorId: actorId(actor),
      action: 'user.invite',
      subjectType: 'UserInvitation',
      subjectId: result.invitation.id,
      details: { roles },
      requestId: ctx.requestId,
      ip: ctx.ip ?? null,
    });
    if (actor.kind === 'platform_admin') {
      await writePlatformAudit(trx, {
        actorType: 'platform_admin',
        actorId: actor.adminId,
        action: 'user.invite',
        targetCompanyId: companyId,
        details: { invitationId: result.invitation.id, roles },
        requestId: ctx.requestId,
        ip: ctx.ip ?? null,
      });
    }
    return result;
  };
  // A super admin's invitation is also a platform audit entry, which only the platform role may
  // write: the invitation, its activity entry and the platform entry then share one platform
  // transaction bound to the company (the same row level security as the field's transaction).
  // Anyone else's invitation runs in the field's own transaction.
  if (actor.kind === 'platform_admin') {
    return inTenantTransaction(ctx.deps.db.platform, companyId, work);
  }
  return ctx.unitOfWork(work);
}

const INVALID_INVITATION = () =>
  new AppError('BAD_USER_INPUT', 'The invitation is invalid, used or expired', { field: 'token' });

/**
 * Accepts an invitation: creates the user with the chosen password (at least 12 characters) and
 * uses the invitation up. Returns the new user's email and company slug so the caller can sign in.
 */
export async function acceptInvitation(
  deps: AppDeps,
  input: { token: string; name: string; password: string },
  meta: { requestId?: string; ip?: string },
): Promise<{ email: string; companySlug: string }> {
  const m = INVITATION.exec(input.token.trim());
  if (!m) throw INVALID_INVITATION();
  const companyId = m[1];
  const name = requiredText(input.name, 'name', 200);
  if (input.password.length < 12 || input.password.length > 200) {
    throw new AppError('BAD_USER_INPUT', 'password must be 12 to 200 characters', {
      field: 'password',
    });
  }
  try {
    await assertCompanyActive(deps, companyId);
  } catch (err) {
    // An invitation naming a company that does not exist is just an invalid invitation.
    if (err instanceof AppError && err.code === 'UNAUTHENTICATED') throw INVALID_INVITATION();
    throw err;
  }
  const passwordHash = await hashPassword(input.password);
  try {
    return await inTenantTransaction(deps.db.knex, companyId, async (trx) => {
      const invitation = await UserInvitation.query(trx)
        .findOne({ token_hash: sha256Hex(input.token.trim()) })
        .forUpdate();
      if (
        !invitation ||
        invitation.acceptedAt ||
        invitation.revokedAt ||
        invitation.expiresAt <= new Date()
      ) {
        deps.metrics.authFailures.inc({ reason: 'invalid_invitation' });
        throw INVALID_INVITATION();
      }
      const user = await User.query(trx).insert({
        email: invitation.email,
        name,
        passwordHash,
        roles: invitation.roles,
      });
      await UserInvitation.query(trx)
        .findById(invitation.id)
        .patch({ acceptedAt: new Date(), acceptedUserId: user.id });
      await ActivityLog.query(trx).insert({
        actorType: 'user',
        actorId: user.id,
        action: 'user.accept_invitation',
        subjectType: 'User',
        subjectId: user.id,
        details: { invitationId: invitation.id, roles: invitation.roles },
        requestId: meta.requestId ?? null,
        ip: meta.ip ?? null,
      });
      const company = (await trx('companies').first('slug')) as { slug: string };
      return { email: invitation.email, companySlug: company.slug };
    });
  } catch (err) {
    translateDbError(err, { users_company_id_email_unique: 'token' });
  }
}

/**
 * Suspends or reactivates a company (super admin), audited on the platform and in the company. A
 * platform operation: one transaction on the platform handle (platform_set_company_suspended is a
 * platform function), bound to the company for its activity entry.
 */
export async function setCompanySuspended(
  ctx: RequestContext,
  companyId: string,
  suspended: boolean,
): Promise<CompanyRow> {
  const adminId = platformAdminId(ctx);
  return ctx.deps.db.platform.transaction(async (trx) => {
    let result: { changed: boolean; released: number };
    try {
      const { rows } = (await trx.raw(
        'select * from platform_set_company_suspended(?, ?, ?, ?, ?)',
        [companyId, suspended, adminId, ctx.requestId, ctx.ip ?? null],
      )) as { rows: { changed: boolean; released: number }[] };
      result = rows[0];
    } catch (err) {
      if ((err as { code?: string }).code === 'P0002') {
        throw new AppError('NOT_FOUND', 'Company not found', { field: 'companyId' });
      }
      throw err;
    }
    await bindTenant(trx, companyId);
    if (result.changed) {
      await ActivityLog.query(trx).insert({
        actorType: 'platform_admin',
        actorId: adminId,
        action: suspended ? 'company.suspend' : 'company.reactivate',
        subjectType: 'Company',
        subjectId: companyId,
        details: { releasedWebhookEvents: result.released },
        requestId: ctx.requestId,
        ip: ctx.ip ?? null,
      });
    }
    return (await trx('companies').where({ id: companyId }).first()) as CompanyRow;
  });
}

/** Changes the company's retention periods (admin of the company). */
/** The caller's company with its life-cycle columns (row level security shows no other). */
export async function ownCompanyRow(ctx: RequestContext): Promise<CompanyRow> {
  ctx.requireCompanyId();
  const row = (await (await ctx.trx())('companies').first()) as CompanyRow | undefined;
  if (!row) throw new AppError('NOT_FOUND', 'Company not found');
  return row;
}

export async function setRetention(
  ctx: RequestContext,
  input: { transcriptRetentionDays?: number | null; recordingRetentionDays?: number | null },
): Promise<CompanyRow> {
  const patch: Record<string, number> = {};
  for (const [key, column] of [
    ['transcriptRetentionDays', 'transcript_retention_days'],
    ['recordingRetentionDays', 'recording_retention_days'],
  ] as const) {
    const value = input[key];
    if (value == null) continue;
    if (!Number.isInteger(value) || value < 1 || value > 3650) {
      throw new AppError('BAD_USER_INPUT', `input.${key} must be 1 to 3650 days`, {
        field: `input.${key}`,
      });
    }
    patch[column] = value;
  }
  return ctx.unitOfWork(async (trx) => {
    const q = trx('companies');
    const [row] = (await (Object.keys(patch).length
      ? q.update(patch).returning('*')
      : q.select('*'))) as CompanyRow[];
    if (!row) throw new AppError('NOT_FOUND', 'Company not found');
    await ctx.audit({
      action: 'company.retention',
      subjectType: 'Company',
      subjectId: row.id,
      details: patch,
    });
    return row;
  });
}
