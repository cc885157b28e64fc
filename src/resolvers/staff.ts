import {
  Arg,
  Args,
  Ctx,
  Field,
  FieldResolver,
  ID,
  InputType,
  Int,
  Mutation,
  ObjectType,
  Query,
  Resolver,
  Root,
} from 'type-graphql';
import { EmailAddressResolver } from 'graphql-scalars';
import { onlyOwnRows } from '../auth/ownership';
import { connectionOf, PageArgs, paginate } from '../graphql/connection';
import type { GraphQLContext } from '../graphql/context';
import { localId, optionalLocalId } from '../graphql/ids';
import { loadRelated } from '../graphql/loaders';
import { AppError } from '../errors/app-error';
import { Branch, Staff, WorkingHour } from '../models';
import { createRow, deleteRow, getById, updateRow } from '../services/crud';
import { requiredText } from '../domain/text';
import { optionalCompanyPhone } from '../domain/companies/company-settings';
import { DateTime, likePattern } from './common';
import { BranchNode } from './branch';
import { Node } from './node';

@ObjectType('Staff', { implements: Node, description: 'A person who serves customers.' })
export class StaffNode extends Node {
  @Field()
  name!: string;

  @Field(() => String, { nullable: true })
  email!: string | null;

  @Field(() => String, { nullable: true })
  phoneE164!: string | null;

  @Field(() => String, { nullable: true, description: 'Calendar colour, e.g. #3366ff.' })
  color!: string | null;

  @Field(() => DateTime, { nullable: true })
  archivedAt!: Date | null;

  @Field(() => DateTime)
  createdAt!: Date;
}

export const StaffConnection = connectionOf(StaffNode, 'Staff').Connection;

@ObjectType('WorkingHour', {
  implements: Node,
  description:
    "A weekly working interval in the branch's time zone; gaps between intervals are breaks.",
})
export class WorkingHourNode extends Node {
  @Field(() => Int, { description: 'ISO weekday: 1 = Monday ... 7 = Sunday.' })
  weekday!: number;

  @Field(() => String, { nullable: true, description: 'First day it applies (YYYY-MM-DD).' })
  validFrom!: string | null;

  @Field(() => String, { nullable: true, description: 'Last day it applies (YYYY-MM-DD).' })
  validUntil!: string | null;
}

export const WorkingHourConnection = connectionOf(WorkingHourNode, 'WorkingHour').Connection;

@InputType()
class StaffFilter {
  @Field(() => String, { nullable: true })
  search?: string | null;

  @Field(() => ID, { nullable: true })
  branchId?: string | null;

  @Field({ defaultValue: false })
  includeArchived!: boolean;
}

@InputType()
class CreateStaffInput {
  @Field()
  name!: string;

  @Field(() => EmailAddressResolver, { nullable: true })
  email?: string | null;

  @Field(() => String, { nullable: true })
  phone?: string | null;

  @Field(() => String, { nullable: true })
  color?: string | null;

  @Field(() => ID, { nullable: true })
  branchId?: string | null;
}

@InputType()
class UpdateStaffInput {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => EmailAddressResolver, { nullable: true })
  email?: string | null;

  @Field(() => String, { nullable: true })
  phone?: string | null;

  @Field(() => String, { nullable: true })
  color?: string | null;

  @Field(() => ID, { nullable: true })
  branchId?: string | null;
}

@InputType()
class WorkingHourInput {
  @Field(() => ID)
  staffId!: string;

  @Field(() => ID, { nullable: true })
  branchId?: string | null;

  @Field(() => Int)
  weekday!: number;

  @Field({ description: 'HH:MM' })
  startsAt!: string;

  @Field({ description: 'HH:MM' })
  endsAt!: string;

  @Field(() => String, { nullable: true })
  validFrom?: string | null;

  @Field(() => String, { nullable: true })
  validUntil?: string | null;
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

const hhmm = (t: string) => t.slice(0, 5);

@Resolver(() => StaffNode)
export class StaffResolver {
  @Query(() => StaffConnection, { description: 'Staff, by name.' })
  async staffMembers(
    @Args() page: PageArgs,
    @Arg('filter', () => StaffFilter, { nullable: true }) filter: StaffFilter | null,
    @Ctx() { ctx }: GraphQLContext,
  ) {
    const q = Staff.query(await ctx.trx());
    if (!filter?.includeArchived) q.whereNull('archived_at');
    if (filter?.search) q.whereILike('name', `%${likePattern(filter.search)}%`);
    if (filter?.branchId)
      q.where('branch_id', localId(ctx, filter.branchId, 'Branch', 'filter.branchId'));
    return paginate(
      ctx,
      q,
      page,
      { key: 'name', column: 'staff.name', direction: 'asc' },
      (r) => r.name,
    );
  }

  @Mutation(() => StaffNode)
  async createStaff(@Arg('input') input: CreateStaffInput, @Ctx() { ctx }: GraphQLContext) {
    return createRow(
      ctx,
      Staff,
      {
        name: requiredText(input.name, 'input.name'),
        email: input.email?.toLowerCase() ?? null,
        phoneE164: (await optionalCompanyPhone(ctx, input.phone, 'input.phone')) ?? null,
        color: checkColor(input.color) ?? null,
        branchId: optionalLocalId(ctx, input.branchId, 'Branch', 'input.branchId') ?? null,
      },
      { what: 'Staff', fields: STAFF_FIELDS },
    );
  }

  @Mutation(() => StaffNode)
  async updateStaff(@Arg('input') input: UpdateStaffInput, @Ctx() { ctx }: GraphQLContext) {
    return updateRow(
      ctx,
      Staff,
      localId(ctx, input.id, 'Staff', 'input.id'),
      {
        name: input.name == null ? undefined : requiredText(input.name, 'input.name'),
        email: input.email === undefined ? undefined : (input.email?.toLowerCase() ?? null),
        phoneE164: await optionalCompanyPhone(ctx, input.phone, 'input.phone'),
        color: checkColor(input.color),
        branchId: optionalLocalId(ctx, input.branchId, 'Branch', 'input.branchId'),
      },
      { what: 'Staff', fields: STAFF_FIELDS },
    );
  }

  @Mutation(() => StaffNode, { description: 'Archives a staff member; history stays.' })
  async archiveStaff(@Arg('id', () => ID) id: string, @Ctx() { ctx }: GraphQLContext) {
    return updateRow(
      ctx,
      Staff,
      localId(ctx, id, 'Staff', 'id'),
      { archivedAt: new Date() },
      { what: 'Staff' },
    );
  }

  @FieldResolver(() => BranchNode, { nullable: true })
  async branch(@Root() staff: Staff, @Ctx() { ctx }: GraphQLContext) {
    return loadRelated(ctx, Branch, staff.branchId);
  }

  @Query(() => WorkingHourConnection, {
    description: 'Working hours, by staff member and weekday. Staff users see their own.',
  })
  async workingHours(
    @Args() page: PageArgs,
    @Arg('staffId', () => ID, { nullable: true }) staffId: string | null,
    @Ctx() { ctx }: GraphQLContext,
  ) {
    const q = onlyOwnRows(ctx.actor, WorkingHour.query(await ctx.trx()), 'working_hours.staff_id');
    if (staffId) q.where('staff_id', localId(ctx, staffId, 'Staff', 'staffId'));
    return paginate(
      ctx,
      q,
      page,
      { key: 'created_at', column: 'working_hours.created_at', direction: 'asc' },
      (r) => r.createdAt,
    );
  }

  @Mutation(() => WorkingHourNode)
  async createWorkingHour(@Arg('input') input: WorkingHourInput, @Ctx() { ctx }: GraphQLContext) {
    checkWorkingHour(input);
    const staffId = localId(ctx, input.staffId, 'Staff', 'input.staffId');
    await getById(ctx, Staff, staffId, 'Staff', 'input.staffId');
    return createRow(
      ctx,
      WorkingHour,
      {
        staffId,
        branchId: optionalLocalId(ctx, input.branchId, 'Branch', 'input.branchId') ?? null,
        weekday: input.weekday,
        startsAt: input.startsAt,
        endsAt: input.endsAt,
        validFrom: input.validFrom ?? null,
        validUntil: input.validUntil ?? null,
      },
      { what: 'WorkingHour', fields: { working_hours_branch_id_fkey: 'input.branchId' } },
    );
  }

  @Mutation(() => Boolean)
  async deleteWorkingHour(@Arg('id', () => ID) id: string, @Ctx() { ctx }: GraphQLContext) {
    return deleteRow(ctx, WorkingHour, localId(ctx, id, 'WorkingHour', 'id'), {
      what: 'WorkingHour',
    });
  }
}

@Resolver(() => WorkingHourNode)
export class WorkingHourResolver {
  @FieldResolver(() => StaffNode)
  async staff(@Root() wh: WorkingHour, @Ctx() { ctx }: GraphQLContext) {
    return loadRelated(ctx, Staff, wh.staffId);
  }

  @FieldResolver(() => BranchNode, { nullable: true })
  async branch(@Root() wh: WorkingHour, @Ctx() { ctx }: GraphQLContext) {
    return loadRelated(ctx, Branch, wh.branchId);
  }

  @FieldResolver(() => String, { description: 'Local start time, HH:MM.' })
  startsAt(@Root() wh: WorkingHour): string {
    return hhmm(wh.startsAt);
  }

  @FieldResolver(() => String, { description: 'Local end time, HH:MM.' })
  endsAt(@Root() wh: WorkingHour): string {
    return hhmm(wh.endsAt);
  }
}
