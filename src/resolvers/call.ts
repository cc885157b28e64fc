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
import type { PhoneNumber, Call } from '../models';
import * as calls from '../domain/calls/call.service';
import { checkRange, DateTime, DateTimeRange } from './common';
import { BranchNode } from './branch';
import { CustomerNode } from './customer';
import { Node } from './node';

@ObjectType('Call', { implements: Node, description: 'A phone call answered by the voice agent.' })
export class CallNode extends Node {
  @Field({ description: "Retell's call id." })
  retellCallId!: string;

  @Field({ description: 'inbound or outbound.' })
  direction!: string;

  @Field({ description: 'registered, not_connected, ongoing, ended or error.' })
  status!: string;

  @Field(() => String, { nullable: true })
  fromNumber!: string | null;

  @Field(() => String, { nullable: true })
  toNumber!: string | null;

  @Field(() => DateTime, { nullable: true })
  startedAt!: Date | null;

  @Field(() => DateTime, { nullable: true })
  endedAt!: Date | null;

  @Field(() => Int, { nullable: true })
  durationMs!: number | null;

  @Field(() => String, { nullable: true })
  summary!: string | null;

  @Field(() => String, { nullable: true })
  transcript!: string | null;

  @Field(() => String, { nullable: true, description: 'negative, positive, neutral or unknown.' })
  sentiment!: string | null;

  @Field(() => Boolean, { nullable: true })
  callSuccessful!: boolean | null;

  @Field(() => String, { nullable: true })
  disconnectionReason!: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'booked, rescheduled, cancelled, callback_requested, information or no_action.',
  })
  outcome!: string | null;

  @Field(() => DateTime)
  createdAt!: Date;
}

export const CallConnection = connectionOf(CallNode, 'Call').Connection;

@ObjectType('VoiceFunctionCall', {
  description: 'One function the voice agent called during a call, as recorded by the server.',
})
export class VoiceFunctionCallNode {
  @Field(() => ID)
  id!: string;

  @Field({
    description:
      'list_services, check_availability, book_appointment, find_appointments, reschedule_appointment, cancel_appointment or request_callback.',
  })
  functionName!: string;

  @Field({
    description:
      'ok, refused (not possible, e.g. slot taken), invalid (bad arguments), limited (per-call limit) or error.',
  })
  outcome!: string;

  @Field(() => String, {
    nullable: true,
    description: 'Error code, field or limit behind the outcome.',
  })
  errorCode!: string | null;

  @Field(() => Int, { description: 'Server time to answer, in milliseconds.' })
  latencyMs!: number;

  @Field({ description: 'A retry answered with the stored answer of the first request.' })
  replayed!: boolean;

  @Field(() => DateTime)
  createdAt!: Date;
}

@ObjectType('PhoneNumber', { implements: Node, description: 'A number the voice agent answers.' })
export class PhoneNumberNode extends Node {
  @Field({ description: 'E.164.' })
  numberE164!: string;

  @Field(() => String, { nullable: true })
  label!: string | null;

  @Field()
  active!: boolean;
}

export const PhoneNumberConnection = connectionOf(PhoneNumberNode, 'PhoneNumber').Connection;

@InputType()
class CallFilter {
  @Field(() => DateTimeRange, { nullable: true, description: 'Calls recorded in this range.' })
  createdAt?: DateTimeRange | null;

  @Field(() => ID, { nullable: true })
  customerId?: string | null;

  @Field(() => String, { nullable: true })
  outcome?: string | null;
}

@InputType()
class PhoneNumberInput {
  @Field(() => ID, { nullable: true, description: 'Set to update an existing number.' })
  id?: string | null;

  @Field(() => String, { nullable: true })
  number?: string | null;

  @Field(() => String, { nullable: true })
  label?: string | null;

  @Field(() => Boolean, { nullable: true })
  active?: boolean | null;

  @Field(() => ID, { nullable: true })
  branchId?: string | null;
}

@Resolver(() => CallNode)
export class CallResolver {
  @Query(() => CallConnection, { description: 'Calls, newest first.' })
  async calls(
    @Args() page: PageArgs,
    @Arg('filter', () => CallFilter, { nullable: true }) filter: CallFilter | null,
    @Ctx() { ctx }: GraphQLContext,
  ) {
    checkRange(filter?.createdAt, 'filter.createdAt');
    const { query: q } = await calls.callQuery(ctx, {
      createdFrom: filter?.createdAt?.from,
      createdTo: filter?.createdAt?.to,
      customerId: filter?.customerId
        ? localId(ctx, filter.customerId, 'Customer', 'filter.customerId')
        : null,
      outcome: filter?.outcome,
    });
    return paginate(
      ctx,
      q,
      page,
      { key: 'created_at', column: 'calls.created_at', direction: 'desc' },
      (r) => r.createdAt,
    );
  }

  @FieldResolver(() => CustomerNode, { nullable: true })
  async customer(@Root() call: Call, @Ctx() { ctx }: GraphQLContext) {
    return loadRelated(ctx, 'Customer', call.customerId);
  }

  @FieldResolver(() => PhoneNumberNode, { nullable: true })
  async phoneNumber(@Root() call: Call, @Ctx() { ctx }: GraphQLContext) {
    return loadRelated(ctx, 'PhoneNumber', call.phoneNumberId);
  }

  @FieldResolver(() => [VoiceFunctionCallNode], {
    description: 'The functions the voice agent called during the call, in order.',
  })
  async functionCalls(@Root() call: Call, @Ctx() { ctx }: GraphQLContext) {
    return calls.functionCallLoader(ctx).load(call.id);
  }
}

@Resolver(() => PhoneNumberNode)
export class PhoneNumberResolver {
  @Query(() => PhoneNumberConnection, { description: 'Phone numbers of the company.' })
  async phoneNumbers(@Args() page: PageArgs, @Ctx() { ctx }: GraphQLContext) {
    const { query: q } = await calls.phoneNumberQuery(ctx);
    return paginate(
      ctx,
      q,
      page,
      { key: 'number', column: 'phone_numbers.number_e164', direction: 'asc' },
      (r) => r.numberE164,
    );
  }

  @Mutation(() => PhoneNumberNode, {
    description:
      'Adds a phone number, or updates it when id is given. Setting the number itself is for super admins (a number belongs to one company platform-wide); admins change label, branch and active.',
  })
  async savePhoneNumber(@Arg('input') input: PhoneNumberInput, @Ctx() { ctx }: GraphQLContext) {
    return calls.savePhoneNumber(ctx, {
      ...input,
      id: input.id ? localId(ctx, input.id, 'PhoneNumber', 'input.id') : null,
      branchId: optionalLocalId(ctx, input.branchId, 'Branch', 'input.branchId'),
    });
  }

  @FieldResolver(() => BranchNode, { nullable: true })
  async branch(@Root() n: PhoneNumber, @Ctx() { ctx }: GraphQLContext) {
    return loadRelated(ctx, 'Branch', n.branchId);
  }
}
