import { Arg, Ctx, Field, ID, Mutation, ObjectType, Query, Resolver } from 'type-graphql';
import type { GraphQLContext } from '../graphql/context';
import { localId } from '../graphql/ids';
import { toGlobalId } from '../graphql/global-id';
import { eraseCustomer, exportCustomerData } from '../privacy/customer-data';
import { JSONObject } from './common';

@ObjectType({ description: 'The outcome of an erasure: rows anonymised per table.' })
export class CustomerErasure {
  @Field(() => ID)
  customerId!: string;

  @Field(() => JSONObject)
  rows!: Record<string, number>;
}

@Resolver()
export class PrivacyResolver {
  @Query(() => JSONObject, {
    description:
      'Everything held about one person (customer, notes, appointments, calls with transcripts, callbacks, activity entries), keyed by table. Admins only; audited.',
  })
  async exportCustomerData(
    @Arg('customerId', () => ID) customerId: string,
    @Ctx() { ctx }: GraphQLContext,
  ): Promise<Record<string, unknown>> {
    const id = localId(ctx, customerId, 'Customer', 'customerId');
    return JSON.parse(JSON.stringify(await exportCustomerData(ctx, id))) as Record<string, unknown>;
  }

  @Mutation(() => CustomerErasure, {
    description:
      'Anonymises one person everywhere, irreversibly, keeping counts and appointment statistics. Admins only; audited.',
  })
  async eraseCustomer(
    @Arg('customerId', () => ID) customerId: string,
    @Ctx() { ctx }: GraphQLContext,
  ): Promise<CustomerErasure> {
    const id = localId(ctx, customerId, 'Customer', 'customerId');
    const result = await eraseCustomer(ctx, id);
    return {
      customerId: toGlobalId('Customer', ctx.requireCompanyId(), result.customerId),
      rows: result.rows,
    };
  }
}
