import { companySettings } from '../domain/companies/company-settings';
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
import { translateDbError } from '../db/errors';
import { AppError } from '../errors/app-error';
import { Branch, Service, ServiceCategory, StaffService } from '../models';
import { createRow, updateRow } from '../services/crud';
import { optionalText, requiredText } from '../domain/text';
import { DateTime, likePattern } from './common';
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

@ObjectType('Service', { implements: Node, description: 'Something a customer can book.' })
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

function intIn(value: number | null | undefined, field: string, min: number, max: number) {
  if (value == null) return undefined;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new AppError('BAD_USER_INPUT', `${field} must be from ${min} to ${max}`, { field });
  }
  return value;
}

const SERVICE_FIELDS = {
  services_company_id_name_unique: 'input.name',
  services_category_id_fkey: 'input.categoryId',
  services_branch_id_fkey: 'input.branchId',
  staff_services_staff_id_fkey: 'input.staffIds',
};

@Resolver(() => ServiceNode)
export class ServiceResolver {
  @Query(() => ServiceConnection, { description: 'Services, by name.' })
  async services(
    @Args() page: PageArgs,
    @Arg('filter', () => ServiceFilter, { nullable: true }) filter: ServiceFilter | null,
    @Ctx() { ctx }: GraphQLContext,
  ) {
    const q = Service.query(await ctx.trx());
    if (!filter?.includeArchived) q.whereNull('archived_at');
    if (filter?.search) q.whereILike('name', `%${likePattern(filter.search)}%`);
    if (filter?.categoryId) {
      q.where(
        'category_id',
        localId(ctx, filter.categoryId, 'ServiceCategory', 'filter.categoryId'),
      );
    }
    if (filter?.branchId)
      q.where('branch_id', localId(ctx, filter.branchId, 'Branch', 'filter.branchId'));
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
    const data = {
      name: input.name == null ? undefined : requiredText(input.name, 'input.name'),
      description: optionalText(input.description, 'input.description'),
      durationMinutes: intIn(input.durationMinutes, 'input.durationMinutes', 5, 1440),
      bufferMinutes: intIn(input.bufferMinutes, 'input.bufferMinutes', 0, 240),
      priceCents: intIn(input.priceCents, 'input.priceCents', 0, 100_000_000),
      categoryId: optionalLocalId(ctx, input.categoryId, 'ServiceCategory', 'input.categoryId'),
      branchId: optionalLocalId(ctx, input.branchId, 'Branch', 'input.branchId'),
    };
    const staffIds = input.staffIds?.map((id, i) =>
      localId(ctx, id, 'Staff', `input.staffIds.${i}`),
    );
    return ctx.unitOfWork(async (trx) => {
      let service: Service;
      if (input.id) {
        service = await updateRow(
          ctx,
          Service,
          localId(ctx, input.id, 'Service', 'input.id'),
          data,
          {
            what: 'Service',
            fields: SERVICE_FIELDS,
          },
        );
      } else {
        if (data.name === undefined || data.durationMinutes === undefined) {
          throw new AppError(
            'BAD_USER_INPUT',
            'input.name and input.durationMinutes are required',
            {
              field: data.name === undefined ? 'input.name' : 'input.durationMinutes',
            },
          );
        }
        const company = await companySettings(ctx, trx);
        service = await createRow(
          ctx,
          Service,
          { ...data, currency: company.currency } as Partial<Service>,
          { what: 'Service', fields: SERVICE_FIELDS },
        );
      }
      if (staffIds) {
        await StaffService.query(trx).delete().where('service_id', service.id);
        if (staffIds.length) {
          await ctx.unitOfWork(async (inner) => {
            try {
              await StaffService.query(inner).insert(
                [...new Set(staffIds)].map((staffId) => ({
                  staffId,
                  serviceId: service.id,
                })) as never,
              );
            } catch (err) {
              translateDbError(err, SERVICE_FIELDS);
            }
          });
        }
      }
      return service;
    });
  }

  @Mutation(() => ServiceNode)
  async archiveService(@Arg('id', () => ID) id: string, @Ctx() { ctx }: GraphQLContext) {
    return updateRow(
      ctx,
      Service,
      localId(ctx, id, 'Service', 'id'),
      { archivedAt: new Date() },
      { what: 'Service' },
    );
  }

  @FieldResolver(() => ServiceCategoryNode, { nullable: true })
  async category(@Root() s: Service, @Ctx() { ctx }: GraphQLContext) {
    return loadRelated(ctx, ServiceCategory, s.categoryId);
  }

  @FieldResolver(() => BranchNode, { nullable: true })
  async branch(@Root() s: Service, @Ctx() { ctx }: GraphQLContext) {
    return loadRelated(ctx, Branch, s.branchId);
  }

  @Query(() => ServiceCategoryConnection, { description: 'Service categories, in display order.' })
  async serviceCategories(@Args() page: PageArgs, @Ctx() { ctx }: GraphQLContext) {
    const q = ServiceCategory.query(await ctx.trx()).whereNull('archived_at');
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
    const data = {
      name: input.name == null ? undefined : requiredText(input.name, 'input.name'),
      description: optionalText(input.description, 'input.description'),
      sortOrder: intIn(input.sortOrder, 'input.sortOrder', -10000, 10000),
    };
    const fields = { service_categories_company_id_name_unique: 'input.name' };
    if (input.id) {
      const id = localId(ctx, input.id, 'ServiceCategory', 'input.id');
      return updateRow(ctx, ServiceCategory, id, data, { what: 'ServiceCategory', fields });
    }
    if (data.name === undefined) {
      throw new AppError('BAD_USER_INPUT', 'input.name is required', { field: 'input.name' });
    }
    return createRow(ctx, ServiceCategory, data as Partial<ServiceCategory>, {
      what: 'ServiceCategory',
      fields,
    });
  }

  @Mutation(() => ServiceCategoryNode)
  async archiveServiceCategory(@Arg('id', () => ID) id: string, @Ctx() { ctx }: GraphQLContext) {
    const localCategoryId = localId(ctx, id, 'ServiceCategory', 'id');
    return updateRow(
      ctx,
      ServiceCategory,
      localCategoryId,
      { archivedAt: new Date() },
      { what: 'ServiceCategory' },
    );
  }
}
