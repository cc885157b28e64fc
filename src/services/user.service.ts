import type { RequestContext } from '../context/request-context';
import { USER_ROLES, type UserRole } from '../domain/enums';
import { AppError } from '../errors/app-error';
import { ApiToken, Staff, User } from '../models';
import { revokeUserSessions } from '../auth/auth.service';
import { checkPasswordPolicy, hashPassword } from '../auth/password';
import { createRow, getById, updateRow } from './crud';
import { likePattern, requiredText } from '../domain/text';

const USER_FIELDS = {
  users_company_id_email_unique: 'input.email',
  users_staff_id_fkey: 'input.staffId',
};

/**
 * Users and their roles, with the rules that stop privilege escalation: nobody changes their own
 * roles, managers hand out and manage only the staff role, and no company user can become a super
 * admin (that role does not exist inside a company; platform admins live apart).
 */
function assignableRoles(ctx: RequestContext): readonly UserRole[] {
  const { actor } = ctx;
  if (actor.kind === 'platform_admin') return USER_ROLES;
  if (actor.kind === 'user' && actor.roles.includes('admin')) return USER_ROLES;
  if (actor.kind === 'user' && actor.roles.includes('manager')) return ['staff'];
  return [];
}

function checkRoles(ctx: RequestContext, roles: string[], field: string): UserRole[] {
  const unique = [...new Set(roles)];
  if (unique.length === 0) {
    throw new AppError('BAD_USER_INPUT', `${field} must name at least one role`, { field });
  }
  if (unique.includes('super_admin')) {
    ctx.deps.metrics.authorizationDenials.inc({ rule: 'assign_role' });
    throw new AppError(
      'FORBIDDEN',
      'super_admin is a platform role and cannot be granted inside a company',
      { field },
    );
  }
  const unknown = unique.filter((r) => !(USER_ROLES as readonly string[]).includes(r));
  if (unknown.length) {
    throw new AppError('BAD_USER_INPUT', `${field} has unknown roles: ${unknown.join(', ')}`, {
      field,
    });
  }
  const allowedRoles = assignableRoles(ctx);
  const refused = unique.filter((r) => !allowedRoles.includes(r as UserRole));
  if (refused.length) {
    ctx.deps.metrics.authorizationDenials.inc({ rule: 'assign_role' });
    throw new AppError('FORBIDDEN', `Not allowed to grant the role ${refused.join(', ')}`, {
      field,
    });
  }
  return unique as UserRole[];
}

function checkManageable(ctx: RequestContext, target: User): void {
  const allowedRoles = assignableRoles(ctx);
  if (!target.roles.every((r) => allowedRoles.includes(r as UserRole))) {
    ctx.deps.metrics.authorizationDenials.inc({ rule: 'manage_user' });
    throw new AppError('FORBIDDEN', 'Not allowed to change this user');
  }
}

const checkPassword = checkPasswordPolicy;

async function checkStaff(ctx: RequestContext, staffId: string | null | undefined, field: string) {
  if (!staffId) return;
  await getById(ctx, Staff, staffId, 'Staff', field);
}

export async function createUser(
  ctx: RequestContext,
  input: {
    email: string;
    name: string;
    password: string;
    roles: string[];
    staffId?: string | null;
  },
): Promise<User> {
  const roles = checkRoles(ctx, input.roles, 'input.roles');
  await checkStaff(ctx, input.staffId, 'input.staffId');
  const passwordHash = await hashPassword(checkPassword(input.password, 'input.password'));
  return createRow(
    ctx,
    User,
    {
      email: input.email.trim().toLowerCase(),
      name: requiredText(input.name, 'input.name'),
      passwordHash,
      roles,
      staffId: input.staffId ?? null,
    },
    { what: 'User', fields: USER_FIELDS },
  );
}

export async function updateUser(
  ctx: RequestContext,
  id: string,
  input: {
    name?: string | null;
    roles?: string[] | null;
    staffId?: string | null;
    disabled?: boolean | null;
    password?: string | null;
  },
): Promise<User> {
  const target = await getById(ctx, User, id, 'User', 'input.id');
  const self = ctx.actor.kind === 'user' && ctx.actor.userId === id;
  if (!self) checkManageable(ctx, target);
  if (input.roles != null && self) {
    ctx.deps.metrics.authorizationDenials.inc({ rule: 'own_roles' });
    throw new AppError('FORBIDDEN', 'Nobody can change their own roles', { field: 'input.roles' });
  }
  if (input.disabled != null && self) {
    throw new AppError('FORBIDDEN', 'Nobody can disable their own account', {
      field: 'input.disabled',
    });
  }
  if (input.password != null && self) {
    throw new AppError(
      'FORBIDDEN',
      'Change your own password with changePassword, which needs the current one',
      { field: 'input.password' },
    );
  }
  const roles = input.roles == null ? undefined : checkRoles(ctx, input.roles, 'input.roles');
  await checkStaff(ctx, input.staffId, 'input.staffId');
  const passwordHash =
    input.password == null
      ? undefined
      : await hashPassword(checkPassword(input.password, 'input.password'));
  const user = await updateRow(
    ctx,
    User,
    id,
    {
      name: input.name == null ? undefined : requiredText(input.name, 'input.name'),
      roles,
      staffId: input.staffId,
      disabledAt: input.disabled == null ? undefined : input.disabled ? new Date() : null,
      passwordHash,
    },
    { what: 'User', fields: USER_FIELDS },
  );
  // A password reset or a disabled account ends every session of the user at once.
  if (passwordHash !== undefined || input.disabled === true) {
    const revokedSessions = await revokeUserSessions(await ctx.trx(), id);
    await ctx.audit({
      action: passwordHash !== undefined ? 'user.password_reset' : 'user.disable',
      subjectType: 'User',
      subjectId: id,
      details: { revokedSessions },
    });
  }
  if (roles) {
    await ctx.audit({
      action: 'user.roles_change',
      subjectType: 'User',
      subjectId: id,
      details: { from: target.roles, to: roles },
    });
  }
  return user;
}

export interface UserSearch {
  /** Name or email contains this text. */
  search?: string | null;
  role?: string | null;
}

/** The users query for a search, for paging by name. */
export async function userQuery(ctx: RequestContext, filter: UserSearch | null) {
  const q = User.query(await ctx.trx());
  if (filter?.search) {
    const p = `%${likePattern(filter.search)}%`;
    q.where((w) => w.whereILike('name', p).orWhereILike('email', p));
  }
  if (filter?.role) q.whereRaw('? = any(roles)', [filter.role]);
  return { query: q };
}

/** The company's API tokens, for paging newest first. */
export async function apiTokenQuery(ctx: RequestContext) {
  return { query: ApiToken.query(await ctx.trx()) };
}
