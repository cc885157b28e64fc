import {
  Arg,
  Args,
  Ctx,
  Field,
  FieldResolver,
  ID,
  InputType,
  ObjectType,
  Query,
  Resolver,
  Root,
} from 'type-graphql';
import { connectionOf, PageArgs, paginate } from '../graphql/connection';
import type { GraphQLContext } from '../graphql/context';
import { localId } from '../graphql/ids';
import { loadRelated } from '../graphql/loaders';
import type { CallbackRequest } from '../models';
import { callbackRequestQuery } from '../scheduling/queries';
import { DateTime, JSONObject } from './common';
import { CallNode } from './call';
import { CustomerNode } from './customer';
import { Node } from './node';
import { StaffNode } from './staff';

@ObjectType('CallbackRequest', {
  implements: Node,
  description: 'A caller who could not be booked and wants to be called back.',
})
export class CallbackRequestNode extends Node {
  @Field({ description: 'E.164.' })
  phoneE164!: string;

  @Field(() => String, { nullable: true })
  name!: string | null;

  @Field(() => String, { nullable: true })
  reason!: string | null;

  @Field(() => [JSONObject], { description: 'Preferred times as given by the caller.' })
  preferredTimes!: Record<string, unknown>[];

  @Field({ description: 'low, normal, high or urgent.' })
  priority!: string;

  @Field({ description: 'pending, assigned, contacted, done or expired.' })
  status!: string;

  @Field(() => DateTime)
  dueAt!: Date;

  @Field(() => DateTime, { nullable: true })
  contactedAt!: Date | null;

  @Field(() => DateTime, { nullable: true })
  completedAt!: Date | null;

  @Field(() => String, { nullable: true })
  resolution!: string | null;

  @Field(() => DateTime)
  createdAt!: Date;
}

export const CallbackRequestConnection = connectionOf(
  CallbackRequestNode,
  'CallbackRequest',
).Connection;

@InputType()
class CallbackRequestFilter {
  @Field(() => [String], { nullable: true, description: 'Statuses to include.' })
  status?: string[] | null;

  @Field(() => ID, { nullable: true })
  assignedStaffId?: string | null;

  @Field({ defaultValue: false, description: 'Only open requests past their due time.' })
  overdue!: boolean;
}

@Resolver(() => CallbackRequestNode)
export class CallbackRequestResolver {
  @Query(() => CallbackRequestConnection, {
    description: 'Callback requests, most urgent due first.',
  })
  async callbackRequests(
    @Args() page: PageArgs,
    @Arg('filter', () => CallbackRequestFilter, { nullable: true })
    filter: CallbackRequestFilter | null,
    @Ctx() { ctx }: GraphQLContext,
  ) {
    const { query: q } = await callbackRequestQuery(ctx, {
      status: filter?.status,
      overdue: filter?.overdue,
      assignedStaffId: filter?.assignedStaffId
        ? localId(ctx, filter.assignedStaffId, 'Staff', 'filter.assignedStaffId')
        : null,
    });
    return paginate(
      ctx,
      q,
      page,
      { key: 'due_at', column: 'callback_requests.due_at', direction: 'asc' },
      (r) => r.dueAt,
    );
  }

  @FieldResolver(() => CustomerNode, { nullable: true })
  async customer(@Root() r: CallbackRequest, @Ctx() { ctx }: GraphQLContext) {
    return loadRelated(ctx, 'Customer', r.customerId);
  }

  @FieldResolver(() => CallNode, { nullable: true })
  async call(@Root() r: CallbackRequest, @Ctx() { ctx }: GraphQLContext) {
    return loadRelated(ctx, 'Call', r.callId);
  }

  @FieldResolver(() => StaffNode, { nullable: true })
  async assignedStaff(@Root() r: CallbackRequest, @Ctx() { ctx }: GraphQLContext) {
    return loadRelated(ctx, 'Staff', r.assignedStaffId);
  }
}
