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
import { connectionOf, PageArgs, paginate } from '../graphql/connection';
import type { GraphQLContext } from '../graphql/context';
import { localId, optionalLocalId } from '../graphql/ids';
import { loadRelated } from '../graphql/loaders';
import type { Service } from '../models';
import * as catalog from '../domain/catalog/catalog.service';
import { DateTime } from './common';
import { BranchNode } from './branch';
import { Node } from './node';

@ObjectType('ServiceCategory', { implements: Node, description: 'A group of services.' })
export class ServiceCategoryNode extends Node {
  @Field()
  name!: string;

  @Field(() => String, { nullable: true })
  description!: string | null;

  @Field(() => Int)
  sortOrder!: number;

  @Field(() => DateTime, { nullable: true })
  archivedAt!: Date | null;
}

export const ServiceCategoryConnection = connectionOf(
  ServiceCategoryNode,
  'ServiceCategory',
).Connection;

@ObjectType('Service', {
  implements: Node,
  description: 'Something a customer can book.',
  simpleResolvers: true,
})
export class ServiceNode extends Node {
  @Field()
  name!: string;

  @Field(() => String, { nullable: true })
  description!: string | null;

  @Field(() => Int)
  durationMinutes!: number;

  @Field(() => Int, { description: 'Minutes kept free after each appointment.' })
  bufferMinutes!: number;

  @Field(() => Int, { description: 'Price in the smallest currency unit.' })
  priceCents!: number;

  @Field()
  currency!: string;

  @Field(() => DateTime, { nullable: true })
  archivedAt!: Date | null;
}

export const ServiceConnection = connectionOf(ServiceNode, 'Service').Connection;

@InputType()
class ServiceFilter {
  @Field(() => String, { nullable: true })
  search?: string | null;

  @Field(() => ID, { nullable: true })
  categoryId?: string | null;

  @Field(() => ID, { nullable: true })
  branchId?: string | null;

  @Field({ defaultValue: false })
  includeArchived!: boolean;
}

@InputType()
class ServiceInput {
  @Field(() => ID, { nullable: true, description: 'Set to update an existing service.' })
  id?: string | null;

  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => Int, { nullable: true, description: '5 to 1440.' })
  durationMinutes?: number | null;

  @Field(() => Int, { nullable: true, description: '0 to 240.' })
  bufferMinutes?: number | null;

  @Field(() => Int, { nullable: true })
  priceCents?: number | null;

  @Field(() => ID, { nullable: true })
  categoryId?: string | null;

  @Field(() => ID, { nullable: true })
  branchId?: string | null;

  @Field(() => [ID], { nullable: true, description: 'Staff who perform it (replaces the list).' })
  staffIds?: string[] | null;
}

@InputType()
class ServiceCategoryInput {
  @Field(() => ID, { nullable: true })
  id?: string | null;

  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => Int, { nullable: true })
  sortOrder?: number | null;
}

@Resolver(() => ServiceNode)
export class ServiceResolver {
  @Query(() => ServiceConnection, { description: 'Services, by name.' })
  async services(
    @Args() page: PageArgs,
    @Arg('filter', () => ServiceFilter, { nullable: true }) filter: ServiceFilter | null,
    @Ctx() { ctx }: GraphQLContext,
  ) {
    const { query: q } = await catalog.serviceQuery(ctx, {
      ...filter,
      categoryId: filter?.categoryId
        ? localId(ctx, filter.categoryId, 'ServiceCategory', 'filter.categoryId')
        : null,
      branchId: filter?.branchId
        ? localId(ctx, filter.branchId, 'Branch', 'filter.branchId')
        : null,
    });
    return paginate(
      ctx,
      q,
      page,
      { key: 'name', column: 'services.name', direction: 'asc' },
      (r) => r.name,
    );
  }

  @Mutation(() => ServiceNode, {
    description: 'Creates a service, or updates it when id is given.',
  })
  async saveService(@Arg('input') input: ServiceInput, @Ctx() { ctx }: GraphQLContext) {
    return catalog.saveService(ctx, {
      ...input,
      id: input.id ? localId(ctx, input.id, 'Service', 'input.id') : null,
      categoryId: optionalLocalId(ctx, input.categoryId, 'ServiceCategory', 'input.categoryId'),
      branchId: optionalLocalId(ctx, input.branchId, 'Branch', 'input.branchId'),
      staffIds: input.staffIds?.map((id, i) => localId(ctx, id, 'Staff', `input.staffIds.${i}`)),
    });
  }

  @Mutation(() => ServiceNode)
  async archiveService(@Arg('id', () => ID) id: string, @Ctx() { ctx }: GraphQLContext) {
    return catalog.archiveService(ctx, localId(ctx, id, 'Service', 'id'));
  }

  @FieldResolver(() => ServiceCategoryNode, { nullable: true })
  async category(@Root() s: Service, @Ctx() { ctx }: GraphQLContext) {
    return loadRelated(ctx, 'ServiceCategory', s.categoryId);
  }

  @FieldResolver(() => BranchNode, { nullable: true })
  async branch(@Root() s: Service, @Ctx() { ctx }: GraphQLContext) {
    return loadRelated(ctx, 'Branch', s.branchId);
  }

  @Query(() => ServiceCategoryConnection, { description: 'Service categories, in display order.' })
  async serviceCategories(@Args() page: PageArgs, @Ctx() { ctx }: GraphQLContext) {
    const { query: q } = await catalog.serviceCategoryQuery(ctx);
    return paginate(
      ctx,
      q,
      page,
      { key: 'name', column: 'service_categories.name', direction: 'asc' },
      (r) => r.name,
    );
  }

  @Mutation(() => ServiceCategoryNode, {
    description: 'Creates a category, or updates it when id is given.',
  })
  async saveServiceCategory(
    @Arg('input') input: ServiceCategoryInput,
    @Ctx() { ctx }: GraphQLContext,
  ) {
    return catalog.saveServiceCategory(ctx, {
      ...input,
      id: input.id ? localId(ctx, input.id, 'ServiceCategory', 'input.id') : null,
    });
  }

  @Mutation(() => ServiceCategoryNode)
  async archiveServiceCategory(@Arg('id', () => ID) id: string, @Ctx() { ctx }: GraphQLContext) {
    return catalog.archiveServiceCategory(ctx, localId(ctx, id, 'ServiceCategory', 'id'));
  }
}
