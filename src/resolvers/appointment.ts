import {
  Arg,
  Args,
  Ctx,
  Field,
  FieldResolver,
  ID,
  InputType,
  Int,
  ObjectType,
  Query,
  registerEnumType,
  Resolver,
  Root,
} from 'type-graphql';
import { canAccessAppointment } from '../auth/ownership';
import { appointmentQuery } from '../scheduling/queries';
import { connectionOf, PageArgs, paginate, type OrderSpec } from '../graphql/connection';
import type { GraphQLContext } from '../graphql/context';
import { localId } from '../graphql/ids';
import { loadRelated } from '../graphql/loaders';
import { APPOINTMENT_SOURCES, APPOINTMENT_STATUSES } from '../domain/enums';
import type { Appointment } from '../models';
import { checkRange, DateTime, DateTimeRange, OrderDirection, sqlDirection } from './common';
import { BranchNode } from './branch';
import { CustomerNode } from './customer';
import { Node } from './node';
import { ServiceNode } from './service';
import { StaffNode } from './staff';
import { CallNode } from './call';

export enum AppointmentStatus {
  SCHEDULED = 'scheduled',
  CONFIRMED = 'confirmed',
  COMPLETED = 'completed',
  NO_SHOW = 'no_show',
  CANCELLED = 'cancelled',
}
registerEnumType(AppointmentStatus, { name: 'AppointmentStatus' });

export enum AppointmentSource {
  PHONE = 'phone',
  WEB = 'web',
  CALCOM = 'calcom',
  MANUAL = 'manual',
}
registerEnumType(AppointmentSource, { name: 'AppointmentSource' });

// The GraphQL enums and the database constraints must name the same values.
const sameValues = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((v) => b.includes(v));
if (
  !sameValues(Object.values(AppointmentStatus), APPOINTMENT_STATUSES) ||
  !sameValues(Object.values(AppointmentSource), APPOINTMENT_SOURCES)
) {
  throw new Error('appointment enums differ from the domain values');
}

@ObjectType('Appointment', { implements: Node, description: 'A booked time with a staff member.' })
export class AppointmentNode extends Node {
  @Field(() => DateTime)
  startsAt!: Date;

  @Field(() => DateTime)
  endsAt!: Date;

  @Field(() => AppointmentStatus)
  status!: AppointmentStatus;

  @Field(() => AppointmentSource)
  source!: AppointmentSource;

  @Field(() => String, { nullable: true })
  notes!: string | null;

  @Field(() => Int, { nullable: true })
  priceCents!: number | null;

  @Field(() => Int, { description: 'How often it was moved.' })
  rescheduleCount!: number;

  @Field(() => String, {
    nullable: true,
    description: 'The Cal.com booking uid, when it came from Cal.com.',
  })
  calcomBookingUid!: string | null;

  @Field(() => DateTime, { nullable: true })
  confirmedAt!: Date | null;

  @Field(() => DateTime, { nullable: true })
  cancelledAt!: Date | null;

  @Field(() => String, { nullable: true })
  cancelledBy!: string | null;

  @Field(() => String, { nullable: true })
  cancellationReason!: string | null;

  @Field(() => DateTime)
  createdAt!: Date;
}

export const AppointmentConnection = connectionOf(AppointmentNode, 'Appointment').Connection;

export enum AppointmentOrderField {
  STARTS_AT = 'starts_at',
  CREATED_AT = 'created_at',
}
registerEnumType(AppointmentOrderField, { name: 'AppointmentOrderField' });

@InputType()
export class AppointmentOrder {
  @Field(() => AppointmentOrderField)
  field!: AppointmentOrderField;

  @Field(() => OrderDirection, { defaultValue: OrderDirection.ASC })
  direction!: OrderDirection;
}

@InputType()
export class AppointmentFilter {
  @Field(() => DateTimeRange, {
    nullable: true,
    description: 'Appointments starting in this range.',
  })
  startsAt?: DateTimeRange | null;

  @Field(() => [AppointmentStatus], { nullable: true })
  status?: AppointmentStatus[] | null;

  @Field(() => ID, { nullable: true })
  staffId?: string | null;

  @Field(() => ID, { nullable: true })
  branchId?: string | null;

  @Field(() => ID, { nullable: true })
  customerId?: string | null;

  @Field(() => ID, { nullable: true })
  serviceId?: string | null;
}

@Resolver(() => AppointmentNode)
export class AppointmentResolver {
  @Query(() => AppointmentConnection, {
    description:
      'Appointments by time range, status, staff, branch, customer or service. Staff users see their own.',
  })
  async appointments(
    @Args() page: PageArgs,
    @Arg('filter', () => AppointmentFilter, { nullable: true }) filter: AppointmentFilter | null,
    @Arg('orderBy', () => AppointmentOrder, { nullable: true }) orderBy: AppointmentOrder | null,
    @Ctx() { ctx }: GraphQLContext,
  ) {
    checkRange(filter?.startsAt, 'filter.startsAt');
    const { query: q } = await appointmentQuery(ctx, {
      startsFrom: filter?.startsAt?.from,
      startsTo: filter?.startsAt?.to,
      status: filter?.status,
      staffId: filter?.staffId ? localId(ctx, filter.staffId, 'Staff', 'filter.staffId') : null,
      branchId: filter?.branchId
        ? localId(ctx, filter.branchId, 'Branch', 'filter.branchId')
        : null,
      customerId: filter?.customerId
        ? localId(ctx, filter.customerId, 'Customer', 'filter.customerId')
        : null,
      serviceId: filter?.serviceId
        ? localId(ctx, filter.serviceId, 'Service', 'filter.serviceId')
        : null,
    });
    const field = orderBy?.field ?? AppointmentOrderField.STARTS_AT;
    const order: OrderSpec = {
      key: field,
      column: `appointments.${field}`,
      direction: sqlDirection(orderBy?.direction),
    };
    return paginate(ctx, q, page, order, (r) =>
      field === AppointmentOrderField.STARTS_AT ? r.startsAt : r.createdAt,
    );
  }

  @FieldResolver(() => CustomerNode)
  async customer(@Root() a: Appointment, @Ctx() { ctx }: GraphQLContext) {
    return loadRelated(ctx, 'Customer', a.customerId);
  }

  @FieldResolver(() => StaffNode, { nullable: true })
  async staff(@Root() a: Appointment, @Ctx() { ctx }: GraphQLContext) {
    return loadRelated(ctx, 'Staff', a.staffId);
  }

  @FieldResolver(() => ServiceNode)
  async service(@Root() a: Appointment, @Ctx() { ctx }: GraphQLContext) {
    return loadRelated(ctx, 'Service', a.serviceId);
  }

  @FieldResolver(() => BranchNode, { nullable: true })
  async branch(@Root() a: Appointment, @Ctx() { ctx }: GraphQLContext) {
    return loadRelated(ctx, 'Branch', a.branchId);
  }

  @FieldResolver(() => CallNode, { nullable: true, description: 'The voice call that booked it.' })
  async call(@Root() a: Appointment, @Ctx() { ctx }: GraphQLContext) {
    return loadRelated(ctx, 'Call', a.callId);
  }

  @FieldResolver(() => AppointmentNode, {
    nullable: true,
    description: 'The appointment this one replaced.',
  })
  async rescheduledFrom(@Root() a: Appointment, @Ctx() { ctx }: GraphQLContext) {
    // A staff member's appointment may replace one that was another staff member's.
    const previous = await loadRelated(ctx, 'Appointment', a.rescheduledFromId);
    return previous && canAccessAppointment(ctx.actor, previous, 'read') ? previous : null;
  }
}
