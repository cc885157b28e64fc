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
import { connectionOf, PageArgs, paginate } from '../graphql/connection';
import type { GraphQLContext } from '../graphql/context';
import { localId, optionalLocalId } from '../graphql/ids';
import { loadRelated } from '../graphql/loaders';
import type { Staff, WorkingHour } from '../models';
import * as staff from '../domain/staff/staff.service';
import { DateTime } from './common';
import { BranchNode } from './branch';
import { Node } from './node';

@ObjectType('Staff', {
  implements: Node,
  description: 'A person who serves customers.',
  simpleResolvers: true,
})
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

const hhmm = (t: string) => t.slice(0, 5);

@Resolver(() => StaffNode)
export class StaffResolver {
  @Query(() => StaffConnection, { description: 'Staff, by name.' })
  async staffMembers(
    @Args() page: PageArgs,
    @Arg('filter', () => StaffFilter, { nullable: true }) filter: StaffFilter | null,
    @Ctx() { ctx }: GraphQLContext,
  ) {
    const { query: q } = await staff.staffQuery(ctx, {
      ...filter,
      branchId: filter?.branchId
        ? localId(ctx, filter.branchId, 'Branch', 'filter.branchId')
        : null,
    });
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
    return staff.createStaff(ctx, {
      ...input,
      branchId: optionalLocalId(ctx, input.branchId, 'Branch', 'input.branchId') ?? null,
    });
  }

  @Mutation(() => StaffNode)
  async updateStaff(@Arg('input') input: UpdateStaffInput, @Ctx() { ctx }: GraphQLContext) {
    return staff.updateStaff(ctx, localId(ctx, input.id, 'Staff', 'input.id'), {
      ...input,
      branchId: optionalLocalId(ctx, input.branchId, 'Branch', 'input.branchId'),
    });
  }

  @Mutation(() => StaffNode, { description: 'Archives a staff member; history stays.' })
  async archiveStaff(@Arg('id', () => ID) id: string, @Ctx() { ctx }: GraphQLContext) {
    return staff.archiveStaff(ctx, localId(ctx, id, 'Staff', 'id'));
  }

  @FieldResolver(() => BranchNode, { nullable: true })
  async branch(@Root() staff: Staff, @Ctx() { ctx }: GraphQLContext) {
    return loadRelated(ctx, 'Branch', staff.branchId);
  }

  @Query(() => WorkingHourConnection, {
    description: 'Working hours, by staff member and weekday. Staff users see their own.',
  })
  async workingHours(
    @Args() page: PageArgs,
    @Arg('staffId', () => ID, { nullable: true }) staffId: string | null,
    @Ctx() { ctx }: GraphQLContext,
  ) {
    const { query: q } = await staff.workingHourQuery(
      ctx,
      staffId ? localId(ctx, staffId, 'Staff', 'staffId') : null,
    );
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
    return staff.createWorkingHour(
      ctx,
      localId(ctx, input.staffId, 'Staff', 'input.staffId'),
      optionalLocalId(ctx, input.branchId, 'Branch', 'input.branchId') ?? null,
      input,
    );
  }

  @Mutation(() => Boolean)
  async deleteWorkingHour(@Arg('id', () => ID) id: string, @Ctx() { ctx }: GraphQLContext) {
    return staff.deleteWorkingHour(ctx, localId(ctx, id, 'WorkingHour', 'id'));
  }
}

@Resolver(() => WorkingHourNode)
export class WorkingHourResolver {
  @FieldResolver(() => StaffNode)
  async staff(@Root() wh: WorkingHour, @Ctx() { ctx }: GraphQLContext) {
    return loadRelated(ctx, 'Staff', wh.staffId);
  }

  @FieldResolver(() => BranchNode, { nullable: true })
  async branch(@Root() wh: WorkingHour, @Ctx() { ctx }: GraphQLContext) {
    return loadRelated(ctx, 'Branch', wh.branchId);
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
