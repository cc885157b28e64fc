import { raw, type QueryBuilder } from 'objection';
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

type Joined = Partial<Record<JoinedRelation, TenantModel | null>>;
/** Where a page row keeps its joined relations: a symbol no other code (or JSON) sees. */
const JOINED = Symbol('joined relations');

/**
 * The related row a page joined for this appointment: the row, null when the appointment has none
 * (or row level security hides it), undefined when the page did not join that relation.
 */
export function joinedRelation(
  appointment: Appointment,
  relation: JoinedRelation,
): TenantModel | null | undefined {
  return (appointment as { [JOINED]?: Joined })[JOINED]?.[relation];
}

/** [alias in the result, model property] of the columns one table contributes. */
type Reads = Array<[string, string]>;

function newRow(model: ModelClass, raw: Record<string, unknown>, reads: Reads): TenantModel {
  const row = Object.create(model.prototype as object) as Record<string, unknown>;
  for (const [alias, property] of reads) row[property] = raw[alias];
  return row as unknown as TenantModel;
}

/** The column of a model property, or an error: properties come from fixed lists, never input. */
function columnOf(table: Table, property: string): string {
  if (!Object.prototype.hasOwnProperty.call(table.columns, property)) {
    throw new Error(`${table.table} has no column for ${property}`);
  }
  return table.columns[property];
}

const quote = (identifier: string) => `"${identifier}"`;

interface PageReader {
  select(query: QueryBuilder<Appointment, Appointment[]>): void;
  read(raw: readonly Record<string, unknown>[]): Appointment[];
}

function buildReader(shape: AppointmentPageShape, sortProperty: string): PageReader {
  const main = PAGE_TABLES.appointment;
  const selects: string[] = [];
  const appointmentReads: Reads = [];
  const wanted = new Set(['id', 'companyId', 'staffId', sortProperty, ...shape.appointment]);
  const relations = (Object.keys(shape.relations) as JoinedRelation[]).sort();
  for (const relation of relations) wanted.add(FOREIGN_KEY[relation]);
  for (const property of wanted) {
    const alias = `a_${property}`;
    selects.push(`${quote(main.table)}.${quote(columnOf(main, property))} as ${quote(alias)}`);
    appointmentReads.push([alias, property]);
  }
  const joinSql: string[] = [];
  const joins: Array<{
    relation: JoinedRelation;
    model: ModelClass;
    idAlias: string;
    reads: Reads;
  }> = [];
  for (const relation of relations) {
    const table = PAGE_TABLES[relation];
    const alias = `joined_${relation}`;
    const reads: Reads = [];
    for (const property of new Set(['id', 'companyId', ...shape.relations[relation]!])) {
      const as = `${relation}_${property}`;
      selects.push(`${quote(alias)}.${quote(columnOf(table, property))} as ${quote(as)}`);
      reads.push([as, property]);
    }
    const fk = columnOf(main, FOREIGN_KEY[relation]);
    joinSql.push(
      `left join ${quote(table.table)} as ${quote(alias)} on ${quote(alias)}."company_id" = ` +
        `${quote(main.table)}."company_id" and ${quote(alias)}."id" = ${quote(main.table)}.${quote(fk)}`,
    );
    joins.push({ relation, model: table.model, idAlias: `${relation}_id`, reads });
  }
  // Built once per shape from the fixed column lists above; no input reaches the SQL text.
  const selectSql = selects.join(', ');
  const joinsSql = joinSql.join(' ');

  return {
    select(query) {
      query.select(raw(selectSql));
      if (joinsSql) query.joinRaw(joinsSql);
    },
    read(rows) {
      const out = new Array<Appointment>(rows.length);
      for (let i = 0; i < rows.length; i += 1) {
        const r = rows[i];
        const appointment = newRow(main.model, r, appointmentReads) as Appointment;
        if (joins.length > 0) {
          const joined: Joined = {};
          for (const { relation, model, idAlias, reads } of joins) {
            joined[relation] = r[idAlias] == null ? null : newRow(model, r, reads);
          }
          (appointment as { [JOINED]?: Joined })[JOINED] = joined;
        }
        out[i] = appointment;
      }
      return out;
    },
  };
}

const readers = new Map<string, PageReader>();
/** The same shape object (a caller that keeps its shapes) finds its reader without a key. */
const readersOfShape = new WeakMap<AppointmentPageShape, Map<string, PageReader>>();
/** Distinct selections seen are few; the cache is bounded all the same. */
const MAX_READERS = 256;

/**
 * The reader of a page of appointments of this shape: `select` adds its columns and joins to the
 * page query (the query of `appointmentQuery`), `read` turns the raw result rows into
 * `Appointment` rows, each with its joined relations (see `joinedRelation`). `sortProperty` is the
 * property the page is ordered by (its cursor). Readers are built once per shape.
 */
export function appointmentPageReader(
  shape: AppointmentPageShape,
  sortProperty: string,
): PageReader {
  let bySort = readersOfShape.get(shape);
  if (!bySort) {
    bySort = new Map();
    readersOfShape.set(shape, bySort);
  }
  let reader = bySort.get(sortProperty);
  if (!reader) {
    const key = [
      sortProperty,
      [...shape.appointment].sort().join(),
      ...(Object.keys(shape.relations) as JoinedRelation[])
        .sort()
        .map((r) => `${r}:${[...shape.relations[r]!].sort().join()}`),
    ].join('|');
    reader = readers.get(key);
    if (!reader) {
      reader = buildReader(shape, sortProperty);
      if (readers.size >= MAX_READERS) readers.clear();
      readers.set(key, reader);
    }
    bySort.set(sortProperty, reader);
  }
  return reader;
}
