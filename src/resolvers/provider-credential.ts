import {
  Arg,
  Args,
  Ctx,
  Field,
  FieldResolver,
  ID,
  InputType,
  Mutation,
  ObjectType,
  Query,
  Resolver,
  Root,
} from 'type-graphql';
import { connectionOf, PageArgs, paginate } from '../graphql/connection';
import type { GraphQLContext } from '../graphql/context';
import { localId, optionalLocalId } from '../graphql/ids';
import { AppError, badInput } from '../errors/app-error';
import { assignRetellAgent } from '../domain/telephony/retell-agent.service';
import type { ProviderCredential } from '../models';
import {
  createProviderCredential,
  endpointPath,
  providerCredentialsQuery,
  revokeProviderCredential,
  rotateProviderCredential,
} from '../webhooks/credentials';
import { DateTime } from './common';
import { Node } from './node';

/**
 * Provider credentials of the company (admins, and super admins acting in it): a Cal.com webhook
 * or a company's own Retell account, each with its own endpoint. No field ever returns a secret;
 * create and rotate return the new one once.
 *
 * Also the super-admin assignment of Retell agents: an agent id belongs to one company
 * platform-wide, so only a super admin assigns it.
 */
@ObjectType('ProviderCredential', {
  implements: Node,
  description:
    'A Cal.com webhook or Retell account registered for this company. The secret is never shown again after creation or rotation.',
})
export class ProviderCredentialNode extends Node {
  @Field({ description: 'calcom or retell.' })
  provider!: string;

  @Field()
  label!: string;

  @Field(() => DateTime)
  createdAt!: Date;

  @Field(() => DateTime, { nullable: true, description: 'When the secret was last replaced.' })
  rotatedAt!: Date | null;

  @Field(() => DateTime, {
    nullable: true,
    description: 'Until when the secret before the last rotation still verifies deliveries.',
  })
  previousValidUntil!: Date | null;

  @Field(() => DateTime, { nullable: true })
  revokedAt!: Date | null;

  @Field(() => DateTime, {
    nullable: true,
    description: 'When a delivery last verified with it (updated at most once a minute).',
  })
  lastUsedAt!: Date | null;
}

export const ProviderCredentialConnection = connectionOf(
  ProviderCredentialNode,
  'ProviderCredential',
).Connection;

@ObjectType({ description: 'A credential with its secret, shown only in this answer.' })
export class ProviderCredentialSecret {
  @Field({
    description:
      'The webhook secret (Cal.com) or API key (Retell). Shown only this once; enter it in the provider settings.',
  })
  secret!: string;

  @Field(() => ProviderCredentialNode)
  credential!: ProviderCredential;
}

@InputType()
class CreateProviderCredentialInput {
  @Field({ description: 'calcom or retell.' })
  provider!: string;

  @Field({ description: 'A name to recognise it, 1 to 100 characters.' })
  label!: string;

  @Field(() => String, {
    nullable: true,
    description:
      'The secret already set in the provider (Cal.com webhook secret, Retell API key). Required for Retell; for Cal.com one is generated when omitted.',
  })
  secret?: string | null;
}

@InputType()
class RotateProviderCredentialInput {
  @Field(() => ID)
  id!: string;

  @Field(() => String, {
    nullable: true,
    description: 'The new secret; for Cal.com one is generated when omitted.',
  })
  secret?: string | null;

  @Field(() => DateTime, {
    nullable: true,
    description:
      'The old secret keeps verifying until then (default: 24 hours from now, at most 30 days). A time not in the future ends it at once.',
  })
  previousValidUntil?: Date | null;
}

@ObjectType('RetellAgent', {
  implements: Node,
  description: 'A Retell voice agent; its agent id belongs to one company platform-wide.',
})
export class RetellAgentNode extends Node {
  @Field({ description: "Retell's agent id." })
  agentId!: string;

  @Field()
  name!: string;

  @Field({ description: 'Inactive agents are not routed.' })
  active!: boolean;
}

@InputType()
class AssignRetellAgentInput {
  @Field({ description: "Retell's agent id." })
  agentId!: string;

  @Field(() => String, { nullable: true, description: 'Required when the agent is new here.' })
  name?: string | null;

  @Field(() => Boolean, { nullable: true })
  active?: boolean | null;

  @Field(() => ID, { nullable: true })
  branchId?: string | null;
}

const AGENT_ID = /^[A-Za-z0-9_-]{1,100}$/;

@Resolver(() => ProviderCredentialNode)
export class ProviderCredentialResolver {
  @Query(() => ProviderCredentialConnection, {
    description: 'Provider credentials of the company, newest first. Secrets are never returned.',
  })
  async providerCredentials(@Args() page: PageArgs, @Ctx() { ctx }: GraphQLContext) {
    const { query: q } = await providerCredentialsQuery(ctx);
    return paginate(
      ctx,
      q,
      page,
      { key: 'created_at', column: 'provider_credentials.created_at', direction: 'desc' },
      (r) => r.createdAt,
    );
  }

  @Mutation(() => ProviderCredentialSecret, {
    description: 'Registers a Cal.com webhook or Retell account for the company; audited.',
  })
  async createProviderCredential(
    @Arg('input') input: CreateProviderCredentialInput,
    @Ctx() { ctx }: GraphQLContext,
  ) {
    const { secret, row } = await createProviderCredential(ctx, input);
    return { secret, credential: row };
  }

  @Mutation(() => ProviderCredentialSecret, {
    description: 'Replaces the secret, keeping the old one valid for an overlap; audited.',
  })
  async rotateProviderCredential(
    @Arg('input') input: RotateProviderCredentialInput,
    @Ctx() { ctx }: GraphQLContext,
  ) {
    const id = localId(ctx, input.id, 'ProviderCredential', 'input.id');
    const { secret, row } = await rotateProviderCredential(ctx, id, input);
    return { secret, credential: row };
  }

  @Mutation(() => ProviderCredentialNode, {
    description: 'Revokes a credential: its endpoint refuses every delivery; audited.',
  })
  async revokeProviderCredential(@Arg('id', () => ID) id: string, @Ctx() { ctx }: GraphQLContext) {
    return revokeProviderCredential(ctx, localId(ctx, id, 'ProviderCredential', 'id'));
  }

  @FieldResolver(() => String, {
    description: 'The endpoint id: the last segment of the endpoint path.',
  })
  endpointId(@Root() row: ProviderCredential): string {
    return row.id;
  }

  @FieldResolver(() => String, {
    description:
      'Where the provider must deliver, after https://<your host> (e.g. /api/webhooks/calcom/<endpoint id>).',
  })
  endpointPath(@Root() row: ProviderCredential): string {
    return endpointPath(row.provider, row.id);
  }

  @FieldResolver(() => Boolean, { description: 'Not revoked.' })
  active(@Root() row: ProviderCredential): boolean {
    return row.revokedAt === null;
  }
}

@Resolver(() => RetellAgentNode)
export class RetellAgentResolver {
  @Mutation(() => RetellAgentNode, {
    description:
      'Super admins, acting in a company: assigns a Retell agent id to it (or updates its name, branch or active flag). An agent id already assigned to another company is refused (CONFLICT); audited.',
  })
  async assignRetellAgent(
    @Arg('input') input: AssignRetellAgentInput,
    @Ctx() { ctx }: GraphQLContext,
  ) {
    if (ctx.actor.kind !== 'platform_admin') {
      throw new AppError('FORBIDDEN', 'Only a super admin assigns Retell agents');
    }
    ctx.requireCompanyId();
    const agentId = input.agentId.trim();
    if (!AGENT_ID.test(agentId)) {
      throw badInput('input.agentId', 'input.agentId must be 1 to 100 of A-Z a-z 0-9 _ -');
    }
    const name = input.name?.trim();
    if (name !== undefined && (name.length < 1 || name.length > 100)) {
      throw badInput('input.name', 'input.name must be 1 to 100 characters');
    }
    const branchId = optionalLocalId(ctx, input.branchId, 'Branch', 'input.branchId');
    return assignRetellAgent(ctx, { agentId, name, active: input.active, branchId });
  }
}
