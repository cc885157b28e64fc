import { Args, Ctx, Field, FieldResolver, ObjectType, Query, Resolver, Root } from 'type-graphql';
import { connectionOf, PageArgs, paginate } from '../graphql/connection';
import type { GraphQLContext } from '../graphql/context';
import { loadRelated } from '../graphql/loaders';
import type { PolicyConfiguration } from '../models';
import { policyConfigurationQuery } from '../scheduling/queries';
import { DateTime, JSONObject } from './common';
import { BranchNode } from './branch';
import { Node } from './node';
import { ServiceNode } from './service';

@ObjectType('PolicyConfiguration', {
  implements: Node,
  description:
    'A booking, cancellation or rescheduling policy for the company, a branch or a service.',
})
export class PolicyConfigurationNode extends Node {
  @Field({ description: 'booking, cancellation or rescheduling.' })
  policyType!: string;

  @Field(() => JSONObject, { description: 'The settings of the policy type.' })
  config!: Record<string, unknown>;

  @Field()
  active!: boolean;

  @Field(() => DateTime)
  updatedAt!: Date;
}

export const PolicyConfigurationConnection = connectionOf(
  PolicyConfigurationNode,
  'PolicyConfiguration',
).Connection;

@Resolver(() => PolicyConfigurationNode)
export class PolicyResolver {
  @Query(() => PolicyConfigurationConnection, { description: 'Policies of the company.' })
  async policyConfigurations(@Args() page: PageArgs, @Ctx() { ctx }: GraphQLContext) {
    const { query: q } = await policyConfigurationQuery(ctx);
    return paginate(
      ctx,
      q,
      page,
      { key: 'created_at', column: 'policy_configurations.created_at', direction: 'asc' },
      (r) => r.createdAt,
    );
  }

  @FieldResolver(() => BranchNode, { nullable: true, description: 'Null: the whole company.' })
  async branch(@Root() p: PolicyConfiguration, @Ctx() { ctx }: GraphQLContext) {
    return loadRelated(ctx, 'Branch', p.branchId);
  }

  @FieldResolver(() => ServiceNode, { nullable: true, description: 'Null: every service.' })
  async service(@Root() p: PolicyConfiguration, @Ctx() { ctx }: GraphQLContext) {
    return loadRelated(ctx, 'Service', p.serviceId);
  }
}
