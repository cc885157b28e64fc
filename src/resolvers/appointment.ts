import {
  Arg,
  Args,
  Ctx,
  Field,
  FieldResolver,
  ID,
  Info,
  InputType,
  Int,
  ObjectType,
  Query,
  registerEnumType,
  Resolver,
  Root,
} from 'type-graphql';
import { canAccessAppointment } from '../auth/ownership';
import { isObjectType, type FieldNode, type GraphQLResolveInfo, type GraphQLSchema } from 'graphql';
import { appointmentQuery } from '../scheduling/queries';
import {
  appointmentPageReader,
  joinedRelation,
  type AppointmentPageShape,
  type JoinedRelation,
} from '../scheduling/appointment-page';
import { connectionOf, PageArgs, paginate, type OrderSpec } from '../graphql/connection';
import type { GraphQLContext } from '../graphql/context';
import { localId } from '../graphql/ids';
import { loadRelated } from '../graphql/loaders';
import { connectionItemSelection, subSelection, type Selection } from '../graphql/selection';
import { APPOINTMENT_SOURCES, APPOINTMENT_STATUSES } from '../domain/enums';
import type { Appointment, Customer, Service, Staff } from '../models';
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

// Plain fields read the row's property directly (no type-graphql wrapper per field and row).
@ObjectType('Appointment', {
  implements: Node,
  description: 'A booked time with a staff member.',
  simpleResolvers: true,
})
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

/**
 * The model properties each GraphQL field of a type reads, for the page look-ahead. A field not
 * listed here (one added later, or a field resolver that needs more) makes the page fall back to
 * reading whole rows: a field can never meet a row that lacks what it reads.
 */
type FieldReads = Readonly<Record<string, readonly string[]>>;

const same = (fields: readonly string[]) => Object.fromEntries(fields.map((f) => [f, [f]]));

const APPOINTMENT_READS: FieldReads = {
  __typename: [],
  id: [],
  ...same([
    'startsAt',
    'endsAt',
    'status',
    'source',
    'notes',
    'priceCents',
    'rescheduleCount',
    'calcomBookingUid',
    'confirmedAt',
    'cancelledAt',
    'cancelledBy',
    'cancellationReason',
    'createdAt',
  ]),
  branch: ['branchId'],
  call: ['callId'],
  rescheduledFrom: ['rescheduledFromId', 'staffId'],
  customer: ['customerId'],
  staff: ['staffId'],
  service: ['serviceId'],
};

const RELATION_READS: Readonly<Record<JoinedRelation, FieldReads>> = {
  customer: {
    __typename: [],
    id: [],
    ...same(['name', 'phoneE164', 'email', 'preferredLanguage', 'archivedAt', 'createdAt']),
    notes: [],
  },
  staff: {
    __typename: [],
    id: [],
    ...same(['name', 'email', 'phoneE164', 'color', 'archivedAt', 'createdAt']),
    branch: ['branchId'],
  },
  service: {
    __typename: [],
    id: [],
    ...same([
      'name',
      'description',
      'durationMinutes',
      'bufferMinutes',
      'priceCents',
      'currency',
      'archivedAt',
    ]),
    category: ['categoryId'],
    branch: ['branchId'],
  },
};

/** The properties a selection reads, or null when it selects a field `reads` does not know. */
function propertiesOf(selection: Selection, reads: FieldReads): Set<string> | null {
  const properties = new Set<string>();
  for (const field of selection.keys()) {
    const read = Object.prototype.hasOwnProperty.call(reads, field) ? reads[field] : undefined;
    if (!read) return null;
    for (const p of read) properties.add(p);
  }
  return properties;
}

/**
 * What a page of appointments reads for this selection: its columns, and the customer, staff and
 * service joined in when selected (each only when all its selected fields are known; otherwise
 * that relation is loaded by id as usual). Null, to read whole rows, when the items select a
 * field the look-ahead does not know.
 */
function pageShape(info: GraphQLResolveInfo): AppointmentPageShape | null {
  const items = connectionItemSelection(info);
  if (!items) return { appointment: new Set(), relations: {} };
  const appointment = propertiesOf(items, APPOINTMENT_READS);
  if (!appointment) return null;
  const relations: AppointmentPageShape['relations'] = {};
  for (const relation of Object.keys(RELATION_READS) as JoinedRelation[]) {
    const nodes = items.get(relation);
    if (!nodes) continue;
    const properties = propertiesOf(subSelection(info, nodes), RELATION_READS[relation]);
    if (properties) relations[relation] = properties;
  }
  return { appointment, relations };
}

const shapes = new WeakMap<FieldNode, AppointmentPageShape | null>();

/**
 * `pageShape`, once per parsed operation: the shape depends on the document alone (directives and
 * type conditions are not looked at), and the server keeps parsed documents, so a repeated
 * operation finds its shape by the identity of its field node.
 */
function cachedPageShape(info: GraphQLResolveInfo): AppointmentPageShape | null {
  if (info.fieldNodes.length !== 1) return pageShape(info);
  const node = info.fieldNodes[0];
  let shape = shapes.get(node);
  if (shape === undefined) {
    shape = pageShape(info);
    shapes.set(node, shape);
  }
  return shape;
}

/** The joined row when the page joined it, else the row by id (one batch per request). */
function related<R>(
  a: Appointment,
  relation: JoinedRelation,
  load: () => Promise<R | null>,
): R | null | Promise<R | null> {
  const joined = joinedRelation(a, relation);
  return joined === undefined ? load() : (joined as R | null);
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
    @Info() info: GraphQLResolveInfo,
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
    const sortProperty = field === AppointmentOrderField.STARTS_AT ? 'startsAt' : 'createdAt';
    const shape = cachedPageShape(info);
    return paginate(
      ctx,
      q,
      page,
      order,
      (r) => (field === AppointmentOrderField.STARTS_AT ? r.startsAt : r.createdAt),
      shape ? appointmentPageReader(shape, sortProperty) : undefined,
    );
  }

  // The relations below answer without a promise when the page joined them.

  @FieldResolver(() => CustomerNode)
  customer(@Root() a: Appointment, @Ctx() { ctx }: GraphQLContext) {
    return related<Customer>(a, 'customer', () => loadRelated(ctx, 'Customer', a.customerId));
  }

  @FieldResolver(() => StaffNode, { nullable: true })
  staff(@Root() a: Appointment, @Ctx() { ctx }: GraphQLContext) {
    return related<Staff>(a, 'staff', () => loadRelated(ctx, 'Staff', a.staffId));
  }

  @FieldResolver(() => ServiceNode)
  service(@Root() a: Appointment, @Ctx() { ctx }: GraphQLContext) {
    return related<Service>(a, 'service', () => loadRelated(ctx, 'Service', a.serviceId));
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

/**
 * A relation the page joined answers straight from the row, without type-graphql's per-call
 * parameter and middleware handling (three relations on every row of a page); a row without it
 * joined goes to the field resolver above as before. Permissions are applied to the schema
 * afterwards, so shield still guards these fields (graphql/schema.ts).
 */
export function resolveJoinedRelationsDirectly(schema: GraphQLSchema): void {
  const type = schema.getType('Appointment');
  if (!isObjectType(type)) return;
  const fields = type.getFields();
  for (const relation of ['customer', 'staff', 'service'] as const) {
    const field = fields[relation];
    const resolve = field?.resolve;
    if (!resolve) continue;
    field.resolve = (source: Appointment, args, context, info) => {
      const joined = joinedRelation(source, relation);
      return joined === undefined ? resolve(source, args, context, info) : joined;
    };
  }
}
