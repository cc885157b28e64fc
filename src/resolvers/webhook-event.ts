import {
  Arg,
  Ctx,
  Extensions,
  Field,
  ID,
  Int,
  Mutation,
  ObjectType,
  Query,
  Resolver,
} from 'type-graphql';
import { cost, WEBHOOK_STATS_COST } from '../graphql/limits/cost-model';
import type { GraphQLContext } from '../graphql/context';
import {
  listWebhookEvents,
  replayWebhookEvent,
  webhookStats,
  type WebhookEventView,
} from '../webhooks';
import { DateTime, JSONObject } from './common';

/**
 * The webhook inbox for admins (their company's events) and super admins (all, including events
 * no company could be found for). Events belong to the platform inbox, so their ids are the inbox
 * row ids, not Node ids.
 */
@ObjectType({ description: 'An inbound webhook as stored in the inbox.' })
export class WebhookEvent {
  @Field(() => ID)
  id!: string;

  @Field({ description: 'retell or calcom.' })
  provider!: string;

  @Field()
  eventType!: string;

  @Field({
    description: 'pending, processing, processed, ignored, unroutable, failed or dead.',
  })
  status!: string;

  @Field(() => Int)
  attempts!: number;

  @Field(() => DateTime)
  receivedAt!: Date;

  @Field(() => DateTime, { nullable: true })
  nextAttemptAt!: Date | null;

  @Field(() => DateTime, { nullable: true })
  processedAt!: Date | null;

  @Field(() => String, { nullable: true })
  lastError!: string | null;

  @Field(() => ID, { nullable: true, description: 'The company it was routed to.' })
  companyId!: string | null;

  @Field(() => Int)
  replayCount!: number;

  @Field(() => DateTime, { nullable: true })
  lastReplayedAt!: Date | null;

  @Field(() => JSONObject, { nullable: true, description: 'The event as received.' })
  payload!: Record<string, unknown> | null;
}

@ObjectType()
class WebhookEventEdge {
  @Field(() => WebhookEvent)
  node!: WebhookEventView;

  @Field()
  cursor!: string;
}

@ObjectType()
class WebhookEventPageInfo {
  @Field()
  hasNextPage!: boolean;

  @Field(() => String, { nullable: true })
  endCursor!: string | null;
}

@ObjectType({ description: 'Webhook events, newest first.' })
class WebhookEventConnection {
  @Field(() => [WebhookEventEdge])
  edges!: WebhookEventEdge[];

  @Field(() => [WebhookEvent])
  nodes!: WebhookEventView[];

  @Field(() => WebhookEventPageInfo)
  pageInfo!: WebhookEventPageInfo;
}

@ObjectType()
class WebhookStatusCount {
  @Field()
  provider!: string;

  @Field()
  status!: string;

  @Field(() => Int)
  count!: number;

  @Field(() => DateTime)
  oldestReceivedAt!: Date;
}

@ObjectType({ description: 'Inbox counts by provider and status, and the latest failures.' })
class WebhookStats {
  @Field({ description: 'company or platform.' })
  scope!: string;

  @Field(() => DateTime)
  since!: Date;

  @Field(() => [WebhookStatusCount])
  counts!: WebhookStatusCount[];

  @Field(() => [WebhookEvent])
  recentFailures!: WebhookEventView[];
}

const asPayload = (view: WebhookEventView) => ({
  ...view,
  payload:
    view.payload && typeof view.payload === 'object' && !Array.isArray(view.payload)
      ? (view.payload as Record<string, unknown>)
      : null,
});

@Resolver()
export class WebhookEventResolver {
  @Query(() => WebhookEventConnection, {
    description: 'The webhook inbox: admins see their company, super admins everything.',
  })
  async webhookEvents(
    @Arg('first', () => Int, { defaultValue: 20, description: '1 to 100.' }) first: number,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Arg('provider', () => String, { nullable: true }) provider: string | null,
    @Arg('status', () => String, { nullable: true }) status: string | null,
    @Arg('unroutableOnly', { defaultValue: false, description: 'Super admins only.' })
    unroutableOnly: boolean,
    @Ctx() { ctx }: GraphQLContext,
  ) {
    const page = await listWebhookEvents(ctx, {
      first,
      after,
      provider: provider as never,
      status: status as never,
      unroutableOnly,
    });
    const edges = page.edges.map((e) => ({ cursor: e.cursor, node: asPayload(e.node) }));
    return { edges, nodes: edges.map((e) => e.node), pageInfo: page.pageInfo };
  }

  @Query(() => WebhookStats)
  @Extensions(cost(WEBHOOK_STATS_COST))
  async webhookStats(@Ctx() { ctx }: GraphQLContext) {
    const stats = await webhookStats(ctx);
    return { ...stats, recentFailures: stats.recentFailures.map(asPayload) };
  }

  @Mutation(() => WebhookEvent, {
    description: 'Queues a failed, dead or unroutable event again; audited.',
  })
  async replayWebhookEvent(@Arg('id', () => ID) id: string, @Ctx() { ctx }: GraphQLContext) {
    return asPayload(await replayWebhookEvent(ctx, id));
  }
}
