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
import { Branch } from '../models';
import { createRow, updateRow } from '../services/crud';
import { optionalText, requiredText } from '../domain/text';
import { optionalCompanyE164 } from '../services/phone';
import { checkTimezone } from '../services/timezone';
import { DateTime, likePattern } from './common';
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
    const q = Branch.query(await ctx.trx());
    if (!filter?.includeArchived) q.whereNull('archived_at');
    if (filter?.search) q.whereILike('name', `%${likePattern(filter.search)}%`);
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
    return createRow(
      ctx,
      Branch,
      {
        name: requiredText(input.name, 'input.name'),
        address: optionalText(input.address, 'input.address', 500) ?? null,
        phoneE164: (await optionalCompanyE164(ctx, input.phone, 'input.phone')) ?? null,
        timezone: input.timezone == null ? null : checkTimezone(input.timezone, 'input.timezone'),
      },
      { what: 'Branch', fields: { branches_company_id_name_unique: 'input.name' } },
    );
  }

  @Mutation(() => BranchNode)
  async updateBranch(@Arg('input') input: UpdateBranchInput, @Ctx() { ctx }: GraphQLContext) {
    const id = localId(ctx, input.id, 'Branch', 'input.id');
    return updateRow(
      ctx,
      Branch,
      id,
      {
        name: input.name == null ? undefined : requiredText(input.name, 'input.name'),
        address: optionalText(input.address, 'input.address', 500),
        phoneE164: await optionalCompanyE164(ctx, input.phone, 'input.phone'),
        timezone:
          input.timezone === undefined
            ? undefined
            : input.timezone === null
              ? null
              : checkTimezone(input.timezone, 'input.timezone'),
      },
      { what: 'Branch', fields: { branches_company_id_name_unique: 'input.name' } },
    );
  }

  @Mutation(() => BranchNode, { description: 'Archives a branch; it keeps its history.' })
  async archiveBranch(@Arg('id', () => ID) id: string, @Ctx() { ctx }: GraphQLContext) {
    return updateRow(
      ctx,
      Branch,
      localId(ctx, id, 'Branch', 'id'),
      { archivedAt: new Date() },
      { what: 'Branch' },
    );
  }
}
