import {
  Arg,
  Ctx,
  Field,
  ID,
  InputType,
  Int,
  Mutation,
  ObjectType,
  Query,
  Resolver,
  Extensions,
} from 'type-graphql';
import { availableSlotsCost, cost, SLOT_PAGE_DEFAULT } from '../graphql/limits/cost-model';
import { decodeCursor, MAX_PAGE_SIZE, PageInfo } from '../graphql/connection';
import type { GraphQLContext } from '../graphql/context';
import { localId, optionalLocalId } from '../graphql/ids';
import { loadRelatedMany } from '../graphql/loaders';
import { AppError } from '../errors/app-error';
import type { Appointment, Staff } from '../models';
import * as scheduling from '../scheduling';
import { AppointmentNode, AppointmentSource } from './appointment';
import { CallbackRequestNode } from './callback-request';
import { DateTime, JSONObject } from './common';
import { CustomerNode } from './customer';
import { PolicyConfigurationNode } from './policy';
import { StaffNode } from './staff';

/**
 * The scheduling operations: availability, booking and the appointment life cycle, policies and
 * callback requests. Each resolver translates GraphQL to one call of the scheduling services, where
 * the rules live (the voice agent and the Cal.com sync call the same ones).
 */

/** Service errors name fields of their own input; in GraphQL those sit under `input`. */
async function underInput<T>(fn: () => Promise<T>, prefix = 'input'): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (
      err instanceof AppError &&
      err.field &&
      err.field !== 'id' &&
      !err.field.startsWith(`${prefix}.`)
    ) {
      throw new AppError(
        err.code,
        err.message.startsWith(err.field) ? `${prefix}.${err.message}` : err.message,
        {
          field: `${prefix}.${err.field}`,
          details: err.details,
          cause: err,
        },
      );
    }
    throw err;
  }
}

@ObjectType({ description: 'A free start time for a service.' })
export class AvailableSlot {
  @Field({ description: 'ISO 8601 with the local offset, e.g. 2026-03-29T10:00:00+02:00.' })
  startsAt!: string;

  @Field({ description: 'End of the service, ISO 8601 with the local offset.' })
  endsAt!: string;

  @Field(() => DateTime, { description: 'The same start as an instant.' })
  start!: Date;

  @Field(() => StaffNode)
  staff!: Staff;

  @Field({ description: 'Opaque cursor of this slot, for `after`.' })
  cursor!: string;
}

/** The order key slot cursors carry (a timestamp: the slot's start), with the staff id. */
const SLOT_CURSOR_KEY = 'slot_starts_at';

function slotCursor(companyId: string, start: Date, staffId: string): string {
  const payload = { c: companyId, k: SLOT_CURSOR_KEY, v: start.toISOString(), i: staffId };
  return Buffer.from(JSON.stringify(payload)).toString('base64url');
}

@ObjectType({ description: 'Free slots for a service over a date range.' })
export class Availability {
  @Field({ description: 'The IANA time zone of the branch (else the company).' })
  timeZone!: string;

  @Field(() => Int)
  durationMinutes!: number;

  @Field(() => Int)
  bufferMinutes!: number;

  @Field(() => DateTime, { description: 'Nothing earlier is offered (minimum notice).' })
  earliestStart!: Date;

  @Field(() => DateTime, { description: 'Nothing later is offered (booking horizon).' })
  latestStart!: Date;

  @Field(() => [AvailableSlot], {
    description: 'At most `first` slots, by time and then staff; continue with `after`.',
  })
  slots!: AvailableSlot[];

  @Field(() => PageInfo, {
    description: '`hasNextPage` when more slots follow in the range; `endCursor` for `after`.',
  })
  pageInfo!: PageInfo;
}

@InputType()
class OverrideInput {
  @Field({ description: 'Why the rule is set aside; written to the activity log.' })
  reason!: string;
}

@InputType()
class BookingCustomerInput {
  @Field({ description: 'Any format; read with the company region and stored as E.164.' })
  phone!: string;

  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => String, { nullable: true })
  email?: string | null;
}

@InputType()
class BookAppointmentInput {
  @Field(() => ID)
  serviceId!: string;

  @Field(() => ID, { nullable: true, description: 'Omitted: a free staff member is chosen.' })
  staffId?: string | null;

  @Field(() => ID, { nullable: true })
  branchId?: string | null;

  @Field(() => DateTime)
  startsAt!: Date;

  @Field(() => ID, { nullable: true, description: 'An existing customer; or give `customer`.' })
  customerId?: string | null;

  @Field(() => BookingCustomerInput, { nullable: true, description: 'Found by phone, or created.' })
  customer?: BookingCustomerInput | null;

  @Field(() => AppointmentSource, { defaultValue: AppointmentSource.MANUAL })
  source!: AppointmentSource;

  @Field(() => ID, { nullable: true })
  callId?: string | null;

  @Field(() => String, { nullable: true })
  notes?: string | null;

  @Field(() => OverrideInput, { nullable: true, description: 'Admins and managers only.' })
  override?: OverrideInput | null;
}

@ObjectType()
class BookAppointmentPayload {
  @Field(() => AppointmentNode)
  appointment!: Appointment;

  @Field(() => CustomerNode)
  customer!: object;

  @Field()
  customerCreated!: boolean;

  @Field(() => [String], { description: 'Rules set aside by an override.' })
  overriddenRules!: string[];
}

@InputType()
class RescheduleAppointmentInput {
  @Field(() => DateTime)
  startsAt!: Date;

  @Field(() => ID, { nullable: true })
  staffId?: string | null;

  @Field(() => OverrideInput, { nullable: true })
  override?: OverrideInput | null;
}

@ObjectType()
class ReschedulePayload {
  @Field(() => AppointmentNode, { description: 'The new appointment.' })
  appointment!: Appointment;

  @Field(() => AppointmentNode, { description: 'The replaced appointment, now cancelled.' })
  previous!: Appointment;

  @Field(() => [String])
  overriddenRules!: string[];
}

@InputType()
class CancelAppointmentInput {
  @Field(() => String, { nullable: true })
  reason?: string | null;

  @Field(() => OverrideInput, { nullable: true })
  override?: OverrideInput | null;
}

@ObjectType()
class CancelPayload {
  @Field(() => AppointmentNode)
  appointment!: Appointment;

  @Field({ description: 'Cancelled later than the cancellation policy allows.' })
  late!: boolean;

  @Field(() => Int, { nullable: true, description: 'Fee due under the cancellation policy.' })
  feeCents!: number | null;

  @Field(() => [String])
  overriddenRules!: string[];
}

@InputType()
class PolicyInput {
  @Field({ description: 'booking, cancellation or rescheduling.' })
  policyType!: string;

  @Field(() => ID, { nullable: true, description: 'Omitted: the whole company.' })
  branchId?: string | null;

  @Field(() => ID, { nullable: true })
  serviceId?: string | null;

  @Field(() => JSONObject, {
    description:
      'booking: {minNoticeHours, horizonDays, maxPerCustomerPerDay?, maxActivePerCustomer?}; cancellation: {minNoticeHours, feeCents?}; rescheduling: {minNoticeHours, maxReschedules}.',
  })
  config!: Record<string, unknown>;

  @Field(() => Boolean, { nullable: true })
  active?: boolean | null;
}

@InputType()
class PreferredTimeInput {
  @Field(() => DateTime)
  from!: Date;

  @Field(() => DateTime)
  to!: Date;
}

@InputType()
class CreateCallbackRequestInput {
  @Field()
  phone!: string;

  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => String, { nullable: true })
  reason?: string | null;

  @Field(() => [PreferredTimeInput], { nullable: true })
  preferredTimes?: PreferredTimeInput[] | null;

  @Field(() => String, { nullable: true, description: 'low, normal, high or urgent.' })
  priority?: string | null;

  @Field(() => ID, { nullable: true })
  callId?: string | null;

  @Field(() => ID, { nullable: true })
  customerId?: string | null;
}

const override = (o: OverrideInput | null | undefined) => (o ? { reason: o.reason } : undefined);

@Resolver()
export class SchedulingResolver {
  @Query(() => Availability, {
    description:
      'Free start times for a service, optionally for one staff member or branch: the first `first` of them (earliest first), after the cursor `after`. `from` and `to` are dates (YYYY-MM-DD, in the branch time zone; `to` inclusive) or ISO date-times; at most 31 days.',
  })
  @Extensions(cost(availableSlotsCost))
  async availableSlots(
    @Arg('serviceId', () => ID) serviceId: string,
    @Arg('from') from: string,
    @Arg('to') to: string,
    @Arg('staffId', () => ID, { nullable: true }) staffId: string | null,
    @Arg('branchId', () => ID, { nullable: true }) branchId: string | null,
    @Arg('stepMinutes', () => Int, { nullable: true }) stepMinutes: number | null,
    @Arg('first', () => Int, {
      nullable: true,
      description: `Slots to answer, 1 to ${MAX_PAGE_SIZE} (default ${SLOT_PAGE_DEFAULT}).`,
    })
    first: number | null,
    @Arg('after', () => String, {
      nullable: true,
      description: 'The `endCursor` of the previous page: the slots after it.',
    })
    after: string | null,
    @Arg('distinctTimes', () => Boolean, {
      nullable: true,
      description: 'One slot per start time (any free staff member), e.g. for "whoever is free".',
    })
    distinctTimes: boolean | null,
    @Ctx() { ctx }: GraphQLContext,
  ): Promise<Availability> {
    const size = first ?? SLOT_PAGE_DEFAULT;
    if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) {
      throw new AppError('BAD_USER_INPUT', `first must be from 1 to ${MAX_PAGE_SIZE}`, {
        field: 'first',
      });
    }
    // Checked completely before any SQL, like every cursor.
    const cursor = after
      ? decodeCursor(ctx, after, 'after', { key: SLOT_CURSOR_KEY, valueType: 'timestamp' })
      : null;
    const result = await scheduling.findAvailableSlots(ctx, {
      serviceId: localId(ctx, serviceId, 'Service', 'serviceId'),
      staffId: optionalLocalId(ctx, staffId, 'Staff', 'staffId'),
      branchId: optionalLocalId(ctx, branchId, 'Branch', 'branchId'),
      from,
      to,
      stepMinutes: stepMinutes ?? undefined,
      first: size,
      after: cursor ? { start: new Date(cursor.v), staffId: cursor.i.toLowerCase() } : null,
      distinctTimes: distinctTimes === true,
    });
    // A page holds many slots of few staff: their staff are loaded once, not per slot.
    const staffIds = [...new Set(result.slots.map((slot) => slot.staffId))];
    const staff = await loadRelatedMany(ctx, 'Staff', staffIds);
    const byId = new Map<string, Staff>();
    staffIds.forEach((id, i) => {
      const row = staff[i];
      if (row instanceof Error) throw row;
      if (row) byId.set(id, row);
    });
    const companyId = ctx.requireCompanyId();
    const slots = result.slots.map((slot) => ({
      startsAt: slot.startsAt,
      endsAt: slot.endsAt,
      start: slot.start,
      staff: byId.get(slot.staffId) as Staff,
      cursor: slotCursor(companyId, slot.start, slot.staffId),
    }));
    return {
      ...result,
      slots,
      pageInfo: {
        hasNextPage: result.hasMore,
        hasPreviousPage: cursor !== null,
        startCursor: slots[0]?.cursor ?? null,
        endCursor: slots[slots.length - 1]?.cursor ?? null,
      },
    };
  }

  @Mutation(() => BookAppointmentPayload, {
    description: 'Books an appointment under the booking policy; a taken slot is CONFLICT.',
  })
  async bookAppointment(@Arg('input') input: BookAppointmentInput, @Ctx() { ctx }: GraphQLContext) {
    const args = {
      serviceId: localId(ctx, input.serviceId, 'Service', 'input.serviceId'),
      staffId: optionalLocalId(ctx, input.staffId, 'Staff', 'input.staffId'),
      branchId: optionalLocalId(ctx, input.branchId, 'Branch', 'input.branchId'),
      customerId: optionalLocalId(ctx, input.customerId, 'Customer', 'input.customerId'),
      callId: optionalLocalId(ctx, input.callId, 'Call', 'input.callId'),
      startsAt: input.startsAt,
      customer: input.customer,
      source: input.source,
      notes: input.notes,
      override: override(input.override),
    };
    return underInput(() => ctx.unitOfWork(() => scheduling.bookAppointment(ctx, args)));
  }

  @Mutation(() => ReschedulePayload, {
    description: 'Moves an appointment: the old one is cancelled and linked from the new one.',
  })
  async rescheduleAppointment(
    @Arg('id', () => ID) id: string,
    @Arg('input') input: RescheduleAppointmentInput,
    @Ctx() { ctx }: GraphQLContext,
  ) {
    const appointmentId = localId(ctx, id, 'Appointment', 'id');
    const args = {
      startsAt: input.startsAt,
      staffId: optionalLocalId(ctx, input.staffId, 'Staff', 'input.staffId'),
      override: override(input.override),
    };
    return underInput(() =>
      ctx.unitOfWork(() => scheduling.rescheduleAppointment(ctx, appointmentId, args)),
    );
  }

  @Mutation(() => CancelPayload, { description: 'Cancels under the cancellation policy.' })
  async cancelAppointment(
    @Arg('id', () => ID) id: string,
    @Arg('input', () => CancelAppointmentInput, { nullable: true })
    input: CancelAppointmentInput | null,
    @Ctx() { ctx }: GraphQLContext,
  ) {
    const appointmentId = localId(ctx, id, 'Appointment', 'id');
    return underInput(() =>
      ctx.unitOfWork(() =>
        scheduling.cancelAppointment(ctx, appointmentId, {
          reason: input?.reason,
          override: override(input?.override),
        }),
      ),
    );
  }

  @Mutation(() => AppointmentNode)
  async confirmAppointment(@Arg('id', () => ID) id: string, @Ctx() { ctx }: GraphQLContext) {
    const appointmentId = localId(ctx, id, 'Appointment', 'id');
    return ctx.unitOfWork(() => scheduling.confirmAppointment(ctx, appointmentId));
  }

  @Mutation(() => AppointmentNode)
  async completeAppointment(@Arg('id', () => ID) id: string, @Ctx() { ctx }: GraphQLContext) {
    const appointmentId = localId(ctx, id, 'Appointment', 'id');
    return ctx.unitOfWork(() => scheduling.completeAppointment(ctx, appointmentId));
  }

  @Mutation(() => AppointmentNode)
  async markNoShow(@Arg('id', () => ID) id: string, @Ctx() { ctx }: GraphQLContext) {
    const appointmentId = localId(ctx, id, 'Appointment', 'id');
    return ctx.unitOfWork(() => scheduling.markNoShow(ctx, appointmentId));
  }

  @Mutation(() => PolicyConfigurationNode, {
    description: 'Creates or replaces the policy of a type for the company, a branch or a service.',
  })
  async savePolicy(@Arg('input') input: PolicyInput, @Ctx() { ctx }: GraphQLContext) {
    const args = {
      policyType: input.policyType as scheduling.PolicyType,
      branchId: optionalLocalId(ctx, input.branchId, 'Branch', 'input.branchId'),
      serviceId: optionalLocalId(ctx, input.serviceId, 'Service', 'input.serviceId'),
      config: input.config,
      active: input.active,
    };
    const view = await underInput(() => ctx.unitOfWork(() => scheduling.upsertPolicy(ctx, args)));
    return { ...view, companyId: ctx.requireCompanyId() };
  }

  @Mutation(() => Boolean)
  async deletePolicy(@Arg('id', () => ID) id: string, @Ctx() { ctx }: GraphQLContext) {
    const policyId = localId(ctx, id, 'PolicyConfiguration', 'id');
    await ctx.unitOfWork(() => scheduling.deletePolicy(ctx, policyId));
    return true;
  }

  @Mutation(() => CallbackRequestNode)
  async createCallbackRequest(
    @Arg('input') input: CreateCallbackRequestInput,
    @Ctx() { ctx }: GraphQLContext,
  ) {
    const args = {
      phone: input.phone,
      name: input.name,
      reason: input.reason,
      preferredTimes: input.preferredTimes?.map((t) => ({ from: t.from, to: t.to })),
      priority: input.priority as scheduling.CallbackPriority | null | undefined,
      callId: optionalLocalId(ctx, input.callId, 'Call', 'input.callId'),
      customerId: optionalLocalId(ctx, input.customerId, 'Customer', 'input.customerId'),
    };
    return underInput(() => ctx.unitOfWork(() => scheduling.createCallbackRequest(ctx, args)));
  }

  @Mutation(() => CallbackRequestNode)
  async assignCallbackRequest(
    @Arg('id', () => ID) id: string,
    @Arg('staffId', () => ID) staffId: string,
    @Ctx() { ctx }: GraphQLContext,
  ) {
    const requestId = localId(ctx, id, 'CallbackRequest', 'id');
    const staff = localId(ctx, staffId, 'Staff', 'staffId');
    return underInput(
      () =>
        ctx.unitOfWork(() => scheduling.assignCallbackRequest(ctx, requestId, { staffId: staff })),
      'staffId',
    );
  }

  @Mutation(() => CallbackRequestNode)
  async markCallbackContacted(
    @Arg('id', () => ID) id: string,
    @Arg('note', () => String, { nullable: true }) note: string | null,
    @Ctx() { ctx }: GraphQLContext,
  ) {
    const requestId = localId(ctx, id, 'CallbackRequest', 'id');
    return ctx.unitOfWork(() => scheduling.markCallbackContacted(ctx, requestId, { note }));
  }

  @Mutation(() => CallbackRequestNode)
  async completeCallbackRequest(
    @Arg('id', () => ID) id: string,
    @Arg('resolution', () => String, { nullable: true }) resolution: string | null,
    @Ctx() { ctx }: GraphQLContext,
  ) {
    const requestId = localId(ctx, id, 'CallbackRequest', 'id');
    return ctx.unitOfWork(() => scheduling.completeCallbackRequest(ctx, requestId, { resolution }));
  }

  @Mutation(() => CallbackRequestNode)
  async expireCallbackRequest(
    @Arg('id', () => ID) id: string,
    @Arg('reason', () => String, { nullable: true }) reason: string | null,
    @Ctx() { ctx }: GraphQLContext,
  ) {
    const requestId = localId(ctx, id, 'CallbackRequest', 'id');
    return ctx.unitOfWork(() => scheduling.expireCallbackRequest(ctx, requestId, { reason }));
  }
}
