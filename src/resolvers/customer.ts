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
  registerEnumType,
} from 'type-graphql';
import { EmailAddressResolver } from 'graphql-scalars';
import { connectionOf, PageArgs, paginate, type OrderSpec } from '../graphql/connection';
import type { GraphQLContext } from '../graphql/context';
import { localId } from '../graphql/ids';
import { loadRelated } from '../graphql/loaders';
import type { Customer, CustomerNote } from '../models';
import * as customers from '../domain/customers/customer.service';
import { DateTime, OrderDirection, sqlDirection } from './common';
import { Node } from './node';
import { UserNode } from './user';

@ObjectType('Customer', {
  implements: Node,
  description: 'A person who books appointments.',
  simpleResolvers: true,
})
export class CustomerNode extends Node {
  @Field()
  name!: string;

  @Field(() => String, {
    nullable: true,
    description: 'E.164 phone number, unique in the company.',
  })
  phoneE164!: string | null;

  @Field(() => String, { nullable: true })
  email!: string | null;

  @Field(() => String, { nullable: true })
  preferredLanguage!: string | null;

  @Field(() => DateTime, { nullable: true })
  archivedAt!: Date | null;

  @Field(() => DateTime)
  createdAt!: Date;
}

export const CustomerConnection = connectionOf(CustomerNode, 'Customer').Connection;

@ObjectType('CustomerNote', { implements: Node, description: 'A note about a customer.' })
export class CustomerNoteNode extends Node {
  @Field()
  body!: string;

  @Field(() => DateTime)
  createdAt!: Date;
}

export const CustomerNoteConnection = connectionOf(CustomerNoteNode, 'CustomerNote').Connection;

export enum CustomerOrderField {
  NAME = 'name',
  CREATED_AT = 'created_at',
}
registerEnumType(CustomerOrderField, { name: 'CustomerOrderField' });

@InputType()
class CustomerOrder {
  @Field(() => CustomerOrderField)
  field!: CustomerOrderField;

  @Field(() => OrderDirection, { defaultValue: OrderDirection.ASC })
  direction!: OrderDirection;
}

@InputType()
class CustomerFilter {
  @Field(() => String, {
    nullable: true,
    description: 'Name prefix, a phone number in any format, or an email address.',
  })
  search?: string | null;

  @Field({ defaultValue: false })
  includeArchived!: boolean;
}

@InputType()
class CreateCustomerInput {
  @Field()
  name!: string;

  @Field(() => String, { nullable: true, description: 'Any format; stored as E.164.' })
  phone?: string | null;

  @Field(() => EmailAddressResolver, { nullable: true })
  email?: string | null;

  @Field(() => String, { nullable: true })
  preferredLanguage?: string | null;
}

@InputType()
class UpdateCustomerInput {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => String, { nullable: true })
  phone?: string | null;

  @Field(() => EmailAddressResolver, { nullable: true })
  email?: string | null;

  @Field(() => String, { nullable: true })
  preferredLanguage?: string | null;
}

@Resolver(() => CustomerNode)
export class CustomerResolver {
  @Query(() => CustomerConnection, {
    description: 'Customers; search finds a name prefix, a phone number or an email address.',
  })
  async customers(
    @Args() page: PageArgs,
    @Arg('filter', () => CustomerFilter, { nullable: true }) filter: CustomerFilter | null,
    @Arg('orderBy', () => CustomerOrder, { nullable: true }) orderBy: CustomerOrder | null,
    @Ctx() { ctx }: GraphQLContext,
  ) {
    const { query: q, nameSearch } = await customers.customerQuery(ctx, filter);
    const field = orderBy?.field ?? CustomerOrderField.NAME;
    // Searching by name orders by the searched column, so one index gives both filter and order.
    const column: string =
      field === CustomerOrderField.NAME && nameSearch ? 'name_search' : String(field);
    const order: OrderSpec = {
      key: column,
      column: `customers.${column}`,
      direction: sqlDirection(orderBy?.direction),
    };
    return paginate(ctx, q, page, order, (r) =>
      column === 'name_search' ? r.nameSearch : column === 'name' ? r.name : r.createdAt,
    );
  }

  @Mutation(() => CustomerNode)
  async createCustomer(@Arg('input') input: CreateCustomerInput, @Ctx() { ctx }: GraphQLContext) {
    return customers.createCustomer(ctx, input);
  }

  @Mutation(() => CustomerNode)
  async updateCustomer(@Arg('input') input: UpdateCustomerInput, @Ctx() { ctx }: GraphQLContext) {
    return customers.updateCustomer(ctx, localId(ctx, input.id, 'Customer', 'input.id'), input);
  }

  @Mutation(() => CustomerNode, {
    description: 'Archives a customer; appointments and calls stay.',
  })
  async archiveCustomer(@Arg('id', () => ID) id: string, @Ctx() { ctx }: GraphQLContext) {
    return customers.archiveCustomer(ctx, localId(ctx, id, 'Customer', 'id'));
  }

  @FieldResolver(() => CustomerNoteConnection, { description: 'Notes, newest first.' })
  async notes(@Root() customer: Customer, @Args() page: PageArgs, @Ctx() { ctx }: GraphQLContext) {
    const { query: q } = await customers.customerNotesQuery(ctx, customer.id);
    return paginate(
      ctx,
      q,
      page,
      { key: 'created_at', column: 'customer_notes.created_at', direction: 'desc' },
      (r) => r.createdAt,
    );
  }

  @Mutation(() => CustomerNoteNode)
  async addCustomerNote(
    @Arg('customerId', () => ID) customerId: string,
    @Arg('body') body: string,
    @Ctx() { ctx }: GraphQLContext,
  ) {
    return customers.addCustomerNote(ctx, localId(ctx, customerId, 'Customer', 'customerId'), body);
  }

  @Mutation(() => Boolean)
  async deleteCustomerNote(@Arg('id', () => ID) id: string, @Ctx() { ctx }: GraphQLContext) {
    return customers.deleteCustomerNote(ctx, localId(ctx, id, 'CustomerNote', 'id'));
  }
}

@Resolver(() => CustomerNoteNode)
export class CustomerNoteResolver {
  @FieldResolver(() => CustomerNode)
  async customer(@Root() note: CustomerNote, @Ctx() { ctx }: GraphQLContext) {
    return loadRelated(ctx, 'Customer', note.customerId);
  }

  @FieldResolver(() => UserNode, { nullable: true })
  async author(@Root() note: CustomerNote, @Ctx() { ctx }: GraphQLContext) {
    return loadRelated(ctx, 'User', note.authorUserId);
  }
}
