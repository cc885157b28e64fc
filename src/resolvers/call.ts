import DataLoader from 'dataloader';
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
import { AppError } from '../errors/app-error';
import { Branch, Call, Customer, PhoneNumber } from '../models';
import { createRow, updateRow } from '../services/crud';
import { optionalText } from '../domain/text';
import { companyPhone } from '../domain/companies/company-settings';
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

interface FunctionCallRow {
  id: string;
  call_id: string;
  function_name: string;
  outcome: string;
  error_code: string | null;
  latency_ms: number;
  replayed: boolean;
  created_at: Date;
}

/** The function-call log of every Call in the page, in one statement. */
function functionCallLoader(
  ctx: GraphQLContext['ctx'],
): DataLoader<string, VoiceFunctionCallNode[]> {
  const key = 'voiceFunctionCalls:byCall';
  let loader = ctx.cache.get(key) as DataLoader<string, VoiceFunctionCallNode[]> | undefined;
  if (!loader) {
    loader = new DataLoader<string, VoiceFunctionCallNode[]>(
      async (ids) => {
        const trx = await ctx.trx();
        const rows: FunctionCallRow[] = await trx('voice_function_calls')
          .whereIn('call_id', ids as string[])
          .orderBy(['call_id', 'created_at', 'id']);
        const byCall = new Map<string, VoiceFunctionCallNode[]>();
        for (const r of rows) {
          const list = byCall.get(r.call_id) ?? [];
          list.push({
            id: r.id,
            functionName: r.function_name,
            outcome: r.outcome,
            errorCode: r.error_code,
            latencyMs: r.latency_ms,
            replayed: r.replayed,
            createdAt: r.created_at,
          });
          byCall.set(r.call_id, list);
        }
        return ids.map((id) => byCall.get(id) ?? []);
      },
      { maxBatchSize: 500 },
    );
    ctx.cache.set(key, loader);
  }
  return loader;
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
    const q = Call.query(await ctx.trx());
    if (filter?.createdAt?.from) q.where('calls.created_at', '>=', filter.createdAt.from);
    if (filter?.createdAt?.to) q.where('calls.created_at', '<', filter.createdAt.to);
    if (filter?.customerId) {
      q.where('customer_id', localId(ctx, filter.customerId, 'Customer', 'filter.customerId'));
    }
    if (filter?.outcome) q.where('outcome', filter.outcome);
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
    return loadRelated(ctx, Customer, call.customerId);
  }

  @FieldResolver(() => PhoneNumberNode, { nullable: true })
  async phoneNumber(@Root() call: Call, @Ctx() { ctx }: GraphQLContext) {
    return loadRelated(ctx, PhoneNumber, call.phoneNumberId);
  }

  @FieldResolver(() => [VoiceFunctionCallNode], {
    description: 'The functions the voice agent called during the call, in order.',
  })
  async functionCalls(@Root() call: Call, @Ctx() { ctx }: GraphQLContext) {
    return functionCallLoader(ctx).load(call.id);
  }
}

@Resolver(() => PhoneNumberNode)
export class PhoneNumberResolver {
  @Query(() => PhoneNumberConnection, { description: 'Phone numbers of the company.' })
  async phoneNumbers(@Args() page: PageArgs, @Ctx() { ctx }: GraphQLContext) {
    const q = PhoneNumber.query(await ctx.trx());
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
    // A number belongs to one company platform-wide: only a super admin assigns or changes it.
    if (input.number && ctx.actor.kind !== 'platform_admin') {
      throw new AppError('FORBIDDEN', 'Only a super admin assigns phone numbers', {
        field: 'input.number',
      });
    }
    const fields = {
      phone_numbers_company_id_number_e164_unique: 'input.number',
      phone_numbers_number_platform_unique: 'input.number',
    };
    const data = {
      numberE164: input.number ? await companyPhone(ctx, input.number, 'input.number') : undefined,
      label: optionalText(input.label, 'input.label', 100),
      active: input.active ?? undefined,
      branchId: optionalLocalId(ctx, input.branchId, 'Branch', 'input.branchId'),
    };
    if (input.id) {
      return updateRow(ctx, PhoneNumber, localId(ctx, input.id, 'PhoneNumber', 'input.id'), data, {
        what: 'PhoneNumber',
        fields,
      });
    }
    if (!data.numberE164) {
      throw new AppError('BAD_USER_INPUT', 'input.number is required', { field: 'input.number' });
    }
    return createRow(ctx, PhoneNumber, data as Partial<PhoneNumber>, {
      what: 'PhoneNumber',
      fields,
    });
  }

  @FieldResolver(() => BranchNode, { nullable: true })
  async branch(@Root() n: PhoneNumber, @Ctx() { ctx }: GraphQLContext) {
    return loadRelated(ctx, Branch, n.branchId);
  }
}
