import { onlyOwnRows } from '../../auth/ownership';
import type { RequestContext } from '../../context/request-context';
import { AppError } from '../../errors/app-error';
import { Staff, WorkingHour } from '../../models';
import { createRow, deleteRow, getById, updateRow } from '../../services/crud';
import { optionalCompanyPhone } from '../companies/company-settings';
import { likePattern, requiredText } from '../text';

/** Staff and their working hours: the only code that writes `staff` and `working_hours`. */

export interface StaffInput {
  name?: string | null;
  email?: string | null;
  phone?: string | null;
  color?: string | null;
  /** A local branch id (already translated); undefined keeps, null clears. */
  branchId?: string | null;
}

export interface WorkingHourInput {
  weekday: number;
  startsAt: string;
  endsAt: string;
  validFrom?: string | null;
  validUntil?: string | null;
}

export interface StaffSearch {
  search?: string | null;
  includeArchived?: boolean;
  /** A local branch id. */
  branchId?: string | null;
}

const STAFF_FIELDS = {
  staff_company_id_email_unique: 'input.email',
  staff_branch_id_fkey: 'input.branchId',
};
const TIME = /^([01]\d|2[0-3]):[0-5]\d$/;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

function checkColor(color: string | null | undefined): string | null | undefined {
  if (color == null) return color;
  if (!/^#[0-9a-fA-F]{6}$/.test(color)) {
    throw new AppError('BAD_USER_INPUT', 'input.color must look like #3366ff', {
      field: 'input.color',
    });
  }
  return color.toLowerCase();
}

function checkWorkingHour(input: WorkingHourInput): void {
  if (!Number.isInteger(input.weekday) || input.weekday < 1 || input.weekday > 7) {
    throw new AppError('BAD_USER_INPUT', 'input.weekday must be 1 (Monday) to 7 (Sunday)', {
      field: 'input.weekday',
    });
  }
  for (const f of ['startsAt', 'endsAt'] as const) {
    if (!TIME.test(input[f])) {
      throw new AppError('BAD_USER_INPUT', `input.${f} must be HH:MM`, { field: `input.${f}` });
    }
  }
  if (input.endsAt <= input.startsAt) {
    throw new AppError('BAD_USER_INPUT', 'input.endsAt must be after input.startsAt', {
      field: 'input.endsAt',
    });
  }
  for (const f of ['validFrom', 'validUntil'] as const) {
    const v = input[f];
    if (v != null && (!DAY.test(v) || Number.isNaN(Date.parse(v)))) {
      throw new AppError('BAD_USER_INPUT', `input.${f} must be YYYY-MM-DD`, {
        field: `input.${f}`,
      });
    }
  }
  if (input.validFrom && input.validUntil && input.validUntil < input.validFrom) {
    throw new AppError('BAD_USER_INPUT', 'input.validUntil must not be before input.validFrom', {
      field: 'input.validUntil',
    });
  }
}

/** The staff query for a search, for paging by name. */
export async function staffQuery(ctx: RequestContext, filter: StaffSearch | null) {
  const q = Staff.query(await ctx.trx());
  if (!filter?.includeArchived) q.whereNull('archived_at');
  if (filter?.search) q.whereILike('name', `%${likePattern(filter.search)}%`);
  if (filter?.branchId) q.where('branch_id', filter.branchId);
  return { query: q };
}

export async function createStaff(ctx: RequestContext, input: StaffInput) {
  return createRow(
    ctx,
    Staff,
    {
      name: requiredText(input.name, 'input.name'),
      email: input.email?.toLowerCase() ?? null,
      phoneE164: (await optionalCompanyPhone(ctx, input.phone, 'input.phone')) ?? null,
      color: checkColor(input.color) ?? null,
      branchId: input.branchId ?? null,
    },
    { what: 'Staff', fields: STAFF_FIELDS },
  );
}

export async function updateStaff(ctx: RequestContext, id: string, input: StaffInput) {
  return updateRow(
    ctx,
    Staff,
    id,
    {
      name: input.name == null ? undefined : requiredText(input.name, 'input.name'),
      email: input.email === undefined ? undefined : (input.email?.toLowerCase() ?? null),
      phoneE164: await optionalCompanyPhone(ctx, input.phone, 'input.phone'),
      color: checkColor(input.color),
      branchId: input.branchId,
    },
    { what: 'Staff', fields: STAFF_FIELDS },
  );
}

/** Archives a staff member; history stays. */
export async function archiveStaff(ctx: RequestContext, id: string) {
  return updateRow(ctx, Staff, id, { archivedAt: new Date() }, { what: 'Staff' });
}

/** Working hours the actor may see (staff users their own), optionally of one staff member. */
export async function workingHourQuery(ctx: RequestContext, staffId: string | null) {
  const q = onlyOwnRows(ctx.actor, WorkingHour.query(await ctx.trx()), 'working_hours.staff_id');
  if (staffId) q.where('staff_id', staffId);
  return { query: q };
}

export async function createWorkingHour(
  ctx: RequestContext,
  staffId: string,
  branchId: string | null,
  input: WorkingHourInput,
) {
  checkWorkingHour(input);
  await getById(ctx, Staff, staffId, 'Staff', 'input.staffId');
  return createRow(
    ctx,
    WorkingHour,
    {
      staffId,
      branchId,
      weekday: input.weekday,
      startsAt: input.startsAt,
      endsAt: input.endsAt,
      validFrom: input.validFrom ?? null,
      validUntil: input.validUntil ?? null,
    },
    { what: 'WorkingHour', fields: { working_hours_branch_id_fkey: 'input.branchId' } },
  );
}

export async function deleteWorkingHour(ctx: RequestContext, id: string) {
  return deleteRow(ctx, WorkingHour, id, { what: 'WorkingHour' });
}
