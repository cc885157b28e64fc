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
import { requireCustomerNoteChange } from '../auth/ownership';
import { connectionOf, PageArgs, paginate, type OrderSpec } from '../graphql/connection';
import type { GraphQLContext } from '../graphql/context';
import { localId } from '../graphql/ids';
import { loadRelated } from '../graphql/loaders';
import { Customer, CustomerNote, User } from '../models';
import {
  createRow,
  deleteRow,
  getById,
  optionalText,
  requiredText,
  updateRow,
} from '../services/crud';
import { companySettings, optionalCompanyE164 } from '../services/phone';
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';
import { DateTime, OrderDirection, sqlDirection } from './common';
import { AppError } from '../errors/app-error';
import { Node } from './node';
import { UserNode } from './user';

@ObjectType('Customer', { implements: Node, description: 'A person who books appointments.' })
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

const CUSTOMER_FIELDS = {
  customers_company_id_phone_e164_unique: 'input.phone',
  customers_company_id_email_unique: 'input.email',
};

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
    const q = Customer.query(await ctx.trx());
    if (!filter?.includeArchived) q.whereNull('archived_at');
    const search = filter?.search?.trim();
    let nameSearch = false;
    if (search) {
      if (search.includes('@')) {
        q.where('email', search.toLowerCase());
      } else if (/^[+\d][\d\s()./-]{4,}$/.test(search)) {
        const company = await companySettings(ctx);
        const phone = parsePhoneNumberFromString(search, company.default_region as CountryCode);
        q.where('phone_e164', phone?.number ?? search.replace(/[^\d+]/g, ''));
      } else {
        // A range on the stored lower-cased name (customers_name_prefix_idx); see the migration
        // 20261126005000 for why not lower(name) LIKE.
        const prefix = search.toLowerCase();
        q.where('name_search', '>=', prefix).where('name_search', '<', `${prefix}\u{10FFFF}`);
        nameSearch = true;
      }
    }
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
    return createRow(
      ctx,
      Customer,
      {
        name: requiredText(input.name, 'input.name'),
        phoneE164: (await optionalCompanyE164(ctx, input.phone, 'input.phone')) ?? null,
        email: input.email?.toLowerCase() ?? null,
        preferredLanguage:
          optionalText(input.preferredLanguage, 'input.preferredLanguage', 20) ?? null,
      },
      { what: 'Customer', fields: CUSTOMER_FIELDS },
    );
  }

  @Mutation(() => CustomerNode)
  async updateCustomer(@Arg('input') input: UpdateCustomerInput, @Ctx() { ctx }: GraphQLContext) {
    return updateRow(
      ctx,
      Customer,
      localId(ctx, input.id, 'Customer', 'input.id'),
      {
        name: input.name == null ? undefined : requiredText(input.name, 'input.name'),
        phoneE164: await optionalCompanyE164(ctx, input.phone, 'input.phone'),
        email: input.email === undefined ? undefined : (input.email?.toLowerCase() ?? null),
        preferredLanguage: optionalText(input.preferredLanguage, 'input.preferredLanguage', 20),
      },
      { what: 'Customer', fields: CUSTOMER_FIELDS },
    );
  }

  @Mutation(() => CustomerNode, {
    description: 'Archives a customer; appointments and calls stay.',
  })
  async archiveCustomer(@Arg('id', () => ID) id: string, @Ctx() { ctx }: GraphQLContext) {
    return updateRow(
      ctx,
      Customer,
      localId(ctx, id, 'Customer', 'id'),
      { archivedAt: new Date() },
      { what: 'Customer' },
    );
  }

  @FieldResolver(() => CustomerNoteConnection, { description: 'Notes, newest first.' })
  async notes(@Root() customer: Customer, @Args() page: PageArgs, @Ctx() { ctx }: GraphQLContext) {
    const q = CustomerNote.query(await ctx.trx()).where('customer_id', customer.id);
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
    const id = localId(ctx, customerId, 'Customer', 'customerId');
    await getById(ctx, Customer, id, 'Customer', 'customerId');
    return createRow(
      ctx,
      CustomerNote,
      {
        customerId: id,
        body: requiredText(body, 'body', 10000),
        authorUserId: ctx.actor.kind === 'user' ? ctx.actor.userId : null,
      },
      { what: 'CustomerNote' },
    );
  }

  @Mutation(() => Boolean)
  async deleteCustomerNote(@Arg('id', () => ID) id: string, @Ctx() { ctx }: GraphQLContext) {
    const noteId = localId(ctx, id, 'CustomerNote', 'id');
    return ctx.unitOfWork(async (trx) => {
      // Locked, so the author checked is the author of the row deleted.
      const note = await CustomerNote.query(trx).findById(noteId).forUpdate();
      if (!note) throw new AppError('NOT_FOUND', 'CustomerNote not found', { field: 'id' });
      requireCustomerNoteChange(ctx, note, 'id');
      return deleteRow(ctx, CustomerNote, noteId, { what: 'CustomerNote' });
    });
  }
}

@Resolver(() => CustomerNoteNode)
export class CustomerNoteResolver {
  @FieldResolver(() => CustomerNode)
  async customer(@Root() note: CustomerNote, @Ctx() { ctx }: GraphQLContext) {
    return loadRelated(ctx, Customer, note.customerId);
  }

  @FieldResolver(() => UserNode, { nullable: true })
  async author(@Root() note: CustomerNote, @Ctx() { ctx }: GraphQLContext) {
    return loadRelated(ctx, User, note.authorUserId);
  }
}
