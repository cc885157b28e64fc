import type { QueryBuilder } from 'objection';
import { Appointment, Customer, Service, Staff, type TenantModel } from '../models';

/**
 * A page of appointments read in one statement: only the columns its fields need, and the
 * customer, staff member and service joined in when they are asked for, instead of one batch
 * statement per relation afterwards. The statement is the appointment query itself (tenant query
 * builder, the actor's own appointments only), run on the request's tenant transaction as the
 * runtime role: the joined tables are read under the same row level security, joined on
 * `company_id` as well as the id. Rows are built here, without objection's per-row JSON mapping.
 */

/** The relations a page may join. */
export type JoinedRelation = 'customer' | 'staff' | 'service';

/**
 * What a page reads: model properties of the appointment and, per relation to join, the model
 * properties of the related row. `id` and `companyId` are always read (the global id); so are the
 * appointment's `staffId` (ownership) and the property it is sorted by (the cursor).
 */
export interface AppointmentPageShape {
  appointment: ReadonlySet<string>;
  relations: Partial<Record<JoinedRelation, ReadonlySet<string>>>;
}

type ModelClass = typeof TenantModel & (new () => TenantModel);

interface Table {
  model: ModelClass;
  table: string;
  /** Model property -> column; every column of the table. */
  columns: Readonly<Record<string, string>>;
}

const TENANT_COLUMNS = {
  id: 'id',
  companyId: 'company_id',
  createdAt: 'created_at',
  updatedAt: 'updated_at',
} as const;

/** The columns of each table, by model property (test/graphql/appointment-page.test.ts checks them). */
export const PAGE_TABLES: Readonly<Record<'appointment' | JoinedRelation, Table>> = {
  appointment: {
    model: Appointment as unknown as ModelClass,
    table: 'appointments',
    columns: {
      ...TENANT_COLUMNS,
      customerId: 'customer_id',
      serviceId: 'service_id',
      staffId: 'staff_id',
      branchId: 'branch_id',
      callId: 'call_id',
      createdByUserId: 'created_by_user_id',
      startsAt: 'starts_at',
      endsAt: 'ends_at',
      status: 'status',
      source: 'source',
      calcomBookingUid: 'calcom_booking_uid',
      notes: 'notes',
      priceCents: 'price_cents',
      rescheduleCount: 'reschedule_count',
      rescheduledFromId: 'rescheduled_from_id',
      confirmedAt: 'confirmed_at',
      cancelledAt: 'cancelled_at',
      cancelledBy: 'cancelled_by',
      cancellationReason: 'cancellation_reason',
      bufferMinutes: 'buffer_minutes',
    },
  },
  customer: {
    model: Customer as unknown as ModelClass,
    table: 'customers',
    columns: {
      ...TENANT_COLUMNS,
      name: 'name',
      phoneE164: 'phone_e164',
      email: 'email',
      preferredLanguage: 'preferred_language',
      archivedAt: 'archived_at',
      nameSearch: 'name_search',
    },
  },
  staff: {
    model: Staff as unknown as ModelClass,
    table: 'staff',
    columns: {
      ...TENANT_COLUMNS,
      branchId: 'branch_id',
      name: 'name',
      email: 'email',
      phoneE164: 'phone_e164',
      color: 'color',
      archivedAt: 'archived_at',
    },
  },
  service: {
    model: Service as unknown as ModelClass,
    table: 'services',
    columns: {
      ...TENANT_COLUMNS,
      categoryId: 'category_id',
      branchId: 'branch_id',
      name: 'name',
      description: 'description',
      durationMinutes: 'duration_minutes',
      bufferMinutes: 'buffer_minutes',
      priceCents: 'price_cents',
      currency: 'currency',
      archivedAt: 'archived_at',
    },
  },
};

/** The appointment's foreign key of each relation. */
const FOREIGN_KEY: Readonly<Record<JoinedRelation, string>> = {
  customer: 'customerId',
  staff: 'staffId',
  service: 'serviceId',
};

/** Whether `property` is a column of the appointment (or of the relation) a page can read. */
export function isPageProperty(of: 'appointment' | JoinedRelation, property: string): boolean {
  return Object.prototype.hasOwnProperty.call(PAGE_TABLES[of].columns, property);
}

type Joined = Partial<Record<JoinedRelation, TenantModel | null>>;
const joinedRows = new WeakMap<object, Joined>();

/**
 * The related row a page joined for this appointment: the row, null when the appointment has none
 * (or row level security hides it), undefined when the page did not join that relation.
 */
export function joinedRelation(
  appointment: Appointment,
  relation: JoinedRelation,
): TenantModel | null | undefined {
  return joinedRows.get(appointment)?.[relation];
}

/** [alias in the result, model property] of the columns one table contributes. */
type Reads = Array<[string, string]>;

function newRow(model: ModelClass, raw: Record<string, unknown>, reads: Reads): TenantModel {
  const row = Object.create(model.prototype as object) as Record<string, unknown>;
  for (const [alias, property] of reads) row[property] = raw[alias];
  return row as unknown as TenantModel;
}

/**
 * Adds the columns and joins of `shape` to a page query of appointments (the query of
 * `appointmentQuery`), and turns its raw result rows into `Appointment` rows, each with its joined
 * relations (see `joinedRelation`). `sortProperty` is the property the page is ordered by.
 */
export function appointmentPageReader(shape: AppointmentPageShape, sortProperty: string) {
  const main = PAGE_TABLES.appointment;
  const selects: string[] = [];
  const appointmentReads: Reads = [];
  const wanted = new Set(['id', 'companyId', 'staffId', sortProperty, ...shape.appointment]);
  for (const relation of Object.keys(shape.relations) as JoinedRelation[]) {
    wanted.add(FOREIGN_KEY[relation]);
  }
  for (const property of wanted) {
    const column = main.columns[property];
    if (!column) throw new Error(`appointments have no column for ${property}`);
    const alias = `a_${property}`;
    selects.push(`${main.table}.${column} as ${alias}`);
    appointmentReads.push([alias, property]);
  }
  const joins: Array<{ relation: JoinedRelation; alias: string; table: Table; reads: Reads }> = [];
  for (const [relation, properties] of Object.entries(shape.relations) as Array<
    [JoinedRelation, ReadonlySet<string>]
  >) {
    const table = PAGE_TABLES[relation];
    const alias = `joined_${relation}`;
    const reads: Reads = [];
    for (const property of new Set(['id', 'companyId', ...properties])) {
      const column = table.columns[property];
      if (!column) throw new Error(`${table.table} have no column for ${property}`);
      const as = `${relation}_${property}`;
      selects.push(`${alias}.${column} as ${as}`);
      reads.push([as, property]);
    }
    joins.push({ relation, alias, table, reads });
  }

  return {
    select<Q extends QueryBuilder<Appointment, Appointment[]>>(query: Q): void {
      query.select(selects);
      for (const { relation, alias, table } of joins) {
        const fk = `${main.table}.${main.columns[FOREIGN_KEY[relation]]}`;
        query.leftJoin(`${table.table} as ${alias}`, (join) => {
          join
            .on(`${alias}.company_id`, '=', `${main.table}.company_id`)
            .andOn(`${alias}.id`, '=', fk);
        });
      }
    },
    read(raw: readonly Record<string, unknown>[]): Appointment[] {
      return raw.map((r) => {
        const appointment = newRow(main.model, r, appointmentReads) as Appointment;
        if (joins.length > 0) {
          const joined: Joined = {};
          for (const { relation, table, reads } of joins) {
            joined[relation] = r[`${relation}_id`] == null ? null : newRow(table.model, r, reads);
          }
          joinedRows.set(appointment, joined);
        }
        return appointment;
      });
    },
  };
}
