import {
  Arg,
  Args,
  Ctx,
  Field,
  ID,
  InputType,
  Mutation,
  ObjectType,
  Query,
  Resolver,
} from 'type-graphql';
import { connectionOf, PageArgs, paginate } from '../graphql/connection';
import type { GraphQLContext } from '../graphql/context';
import { localId } from '../graphql/ids';
import * as branches from '../domain/branches/branch.service';
import { DateTime } from './common';
import { Node } from './node';

@ObjectType('Branch', { implements: Node, description: 'A location of the company.' })
export class BranchNode extends Node {
  @Field()
  name!: string;

  @Field(() => String, { nullable: true })
  address!: string | null;

  @Field(() => String, { nullable: true, description: 'E.164 phone number.' })
  phoneE164!: string | null;

  @Field(() => String, { nullable: true, description: "IANA time zone; the company's when null." })
  timezone!: string | null;

  @Field(() => DateTime, { nullable: true })
  archivedAt!: Date | null;

  @Field(() => DateTime)
  createdAt!: Date;
}

export const BranchConnection = connectionOf(BranchNode, 'Branch').Connection;

@InputType()
class BranchFilter {
  @Field(() => String, { nullable: true, description: 'Name contains this text.' })
  search?: string | null;

  @Field({ defaultValue: false })
  includeArchived!: boolean;
}

@InputType()
class CreateBranchInput {
  @Field()
  name!: string;

  @Field(() => String, { nullable: true })
  address?: string | null;

  @Field(() => String, { nullable: true, description: 'Any format; stored as E.164.' })
  phone?: string | null;

  @Field(() => String, { nullable: true })
  timezone?: string | null;
}

@InputType()
class UpdateBranchInput {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => String, { nullable: true })
  address?: string | null;

  @Field(() => String, { nullable: true })
  phone?: string | null;

  @Field(() => String, { nullable: true })
  timezone?: string | null;
}

@Resolver(() => BranchNode)
export class BranchResolver {
  @Query(() => BranchConnection, { description: 'Branches, by name.' })
  async branches(
    @Args() page: PageArgs,
    @Arg('filter', () => BranchFilter, { nullable: true }) filter: BranchFilter | null,
    @Ctx() { ctx }: GraphQLContext,
  ) {
    const { query: q } = await branches.branchQuery(ctx, filter);
    return paginate(
      ctx,
      q,
      page,
      { key: 'name', column: 'branches.name', direction: 'asc' },
      (r) => r.name,
    );
  }

  @Mutation(() => BranchNode)
  async createBranch(@Arg('input') input: CreateBranchInput, @Ctx() { ctx }: GraphQLContext) {
    return branches.createBranch(ctx, input);
  }

  @Mutation(() => BranchNode)
  async updateBranch(@Arg('input') input: UpdateBranchInput, @Ctx() { ctx }: GraphQLContext) {
    return branches.updateBranch(ctx, localId(ctx, input.id, 'Branch', 'input.id'), input);
  }

  @Mutation(() => BranchNode, { description: 'Archives a branch; it keeps its history.' })
  async archiveBranch(@Arg('id', () => ID) id: string, @Ctx() { ctx }: GraphQLContext) {
    return branches.archiveBranch(ctx, localId(ctx, id, 'Branch', 'id'));
  }
}
