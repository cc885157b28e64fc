import { Arg, Args, Ctx, Field, ID, InputType, ObjectType, Query, Resolver } from 'type-graphql';
import { connectionOf, PageArgs, paginate } from '../graphql/connection';
import type { GraphQLContext } from '../graphql/context';
import { fromGlobalId } from '../graphql/global-id';
import { activityLogQuery } from '../domain/activity-log.service';
import { checkRange, DateTime, DateTimeRange, JSONObject } from './common';
import { Node } from './node';

@ObjectType('ActivityLog', { implements: Node, description: 'An entry of the audit trail.' })
export class ActivityLogNode extends Node {
  @Field({ description: 'user, api_token, platform_admin, system, webhook or voice_agent.' })
  actorType!: string;

  @Field(() => String, { nullable: true, description: 'Raw id of the actor.' })
  actorId!: string | null;

  @Field({ description: 'What happened, e.g. appointment.cancel.' })
  action!: string;

  @Field(() => String, { nullable: true })
  subjectType!: string | null;

  @Field(() => String, { nullable: true, description: 'Raw id of the subject.' })
  subjectId!: string | null;

  @Field(() => String, { nullable: true })
  reason!: string | null;

  @Field(() => JSONObject)
  details!: Record<string, unknown>;

  @Field(() => String, { nullable: true })
  requestId!: string | null;

  @Field(() => DateTime)
  createdAt!: Date;
}

export const ActivityLogConnection = connectionOf(ActivityLogNode, 'ActivityLog').Connection;

@InputType()
class ActivityLogFilter {
  @Field(() => String, { nullable: true, description: 'Exact action, e.g. auth.login.' })
  action?: string | null;

  @Field(() => ID, { nullable: true, description: 'Global id of the subject.' })
  subjectId?: string | null;

  @Field(() => DateTimeRange, { nullable: true })
  createdAt?: DateTimeRange | null;
}

@Resolver(() => ActivityLogNode)
export class ActivityLogResolver {
  @Query(() => ActivityLogConnection, { description: 'The audit trail, newest first.' })
  async activityLogs(
    @Args() page: PageArgs,
    @Arg('filter', () => ActivityLogFilter, { nullable: true }) filter: ActivityLogFilter | null,
    @Ctx() { ctx }: GraphQLContext,
  ) {
    checkRange(filter?.createdAt, 'filter.createdAt');
    const subject = filter?.subjectId ? fromGlobalId(filter.subjectId, 'filter.subjectId') : null;
    const { query: q } = await activityLogQuery(ctx, {
      action: filter?.action,
      subject: subject && { type: subject.type, id: subject.id },
      createdFrom: filter?.createdAt?.from,
      createdTo: filter?.createdAt?.to,
    });
    return paginate(
      ctx,
      q,
      page,
      { key: 'created_at', column: 'activity_logs.created_at', direction: 'desc' },
      (r) => r.createdAt,
    );
  }
}
