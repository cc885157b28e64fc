import type { Knex } from 'knex';

/**
 * The SQL of the hot read paths, written as the server sends it (knex output of the resolvers and
 * the scheduling data loader, with the tenant filter `company_id = ?` that the tenant query builder
 * adds), and a checker that EXPLAINs each one as the runtime role inside a tenant transaction, so
 * row level security is part of the plan.
 *
 * Two plans per query:
 * - natural: what the planner picks with the current statistics. A Seq Scan on a tenant table
 *   larger than `seqScanRowLimit` rows is a violation (at 1x and 10x every table is small and a
 *   sequential scan is the right plan, so this bites at 100x and 1000x).
 * - forced (`enable_seqscan = off`): proves that an index can serve the query at all. A Seq Scan
 *   that survives this has no usable index, whatever the table size.
 * A Sort above many more rows than the page needs is reported as a warning: the page then reads
 * and sorts every row of the tenant that matches, instead of walking an index in order.
 */

/** Sources of the SQL below, to keep them in step. */
export const SQL_SOURCES = [
  'src/resolvers/appointment.ts + src/graphql/connection.ts (paginate)',
  'src/graphql/loaders.ts (loaderFor: where id in (...))',
  'src/resolvers/customer.ts (customers, search)',
  'src/resolvers/dashboard.ts',
  'src/scheduling/data.ts (loadSchedules)',
];

export interface HotQueryParams {
  companyId: string;
  staffIds: string[];
  customerIds: string[];
  appointmentId: string;
  namePrefix: string;
  phone: string;
  now: Date;
}

export interface HotQuery {
  name: string;
  description: string;
  sql: string;
  bindings: Knex.RawBinding[];
  /** Rows the query returns at most (a page), for the sort warning. */
  limit?: number;
}

const DAY = 86_400_000;

export function hotQueries(p: HotQueryParams): HotQuery[] {
  const c = p.companyId;
  const dayStart = new Date(Math.floor(p.now.getTime() / DAY) * DAY);
  const dayEnd = new Date(dayStart.getTime() + DAY);
  const from = new Date(dayStart.getTime() + DAY);
  const to = new Date(from.getTime() + 14 * DAY);
  const marks = (n: number) => Array.from({ length: n }, () => '?').join(', ');
  const availability = (staff: string[]): Knex.RawBinding[] => [
    ...staff,
    'cancelled',
    new Date(to.getTime() + 30 * 60_000),
    new Date(from.getTime() - (1440 + 240) * 60_000),
    from,
    c,
  ];
  return [
    {
      name: 'appointments page',
      description: 'appointments(first: 50): first page by starts_at',
      sql: `select "appointments".* from "appointments" where "appointments"."company_id" = ? order by "appointments"."starts_at" asc, "appointments"."id" asc limit ?`,
      bindings: [c, 51],
      limit: 51,
    },
    {
      name: 'appointments page after cursor',
      description:
        'appointments(first: 50, after: <cursor at today>): keyset (starts_at, id) > (v, id)',
      sql: `select "appointments".* from "appointments" where ("appointments"."starts_at", "appointments"."id") > (?, ?) and "appointments"."company_id" = ? order by "appointments"."starts_at" asc, "appointments"."id" asc limit ?`,
      bindings: [dayStart, '00000000-0000-0000-0000-000000000000', c, 51],
      limit: 51,
    },
    {
      name: 'appointments page relations',
      description: 'DataLoader batch: the customers of a page by id',
      sql: `select "customers".* from "customers" where "id" in (${marks(p.customerIds.length)}) and "customers"."company_id" = ?`,
      bindings: [...p.customerIds, c],
    },
    {
      name: 'customers list',
      description: 'customers(first: 20): by name',
      sql: `select "customers".* from "customers" where "archived_at" is null and "customers"."company_id" = ? order by "customers"."name" asc, "customers"."id" asc limit ?`,
      bindings: [c, 21],
      limit: 21,
    },
    {
      name: 'customer search by name prefix',
      description: `customers(filter: {search: "${p.namePrefix}"}): lower(name) like 'x%'`,
      sql: `select "customers".* from "customers" where "archived_at" is null and lower(name) like ? and "customers"."company_id" = ? order by "customers"."name" asc, "customers"."id" asc limit ?`,
      bindings: [`${p.namePrefix}%`, c, 21],
      limit: 21,
    },
    {
      name: 'customer search by phone',
      description: 'customers(filter: {search: "+49..."}): phone_e164 = ?',
      sql: `select "customers".* from "customers" where "archived_at" is null and "phone_e164" = ? and "customers"."company_id" = ? order by "customers"."name" asc, "customers"."id" asc limit ?`,
      bindings: [p.phone, c, 21],
      limit: 21,
    },
    {
      name: 'dashboard',
      description: 'dashboard: one aggregate statement',
      sql: `select
        (select json_object_agg(status, n) from (
            select status, count(*)::int as n from appointments
             where company_id = ? and starts_at >= ? and starts_at < ? group by status) s) as by_status,
        (select count(*) from appointments
          where company_id = ? and starts_at >= greatest(?::timestamptz, ?::timestamptz) and starts_at < ?
            and status in ('scheduled', 'confirmed')) as upcoming,
        (select count(*) from calls where company_id = ? and created_at >= ? and created_at < ?) as calls,
        (select count(*) from calls where company_id = ? and created_at >= ? and created_at < ?
            and outcome = 'booked') as booked_calls,
        (select count(*) from callback_requests
          where company_id = ? and status in ('pending', 'assigned', 'contacted')) as open_callbacks`,
      bindings: [
        c, dayStart, dayEnd,
        c, dayStart, p.now, dayEnd,
        c, dayStart, dayEnd,
        c, dayStart, dayEnd,
        c,
      ], // prettier-ignore
    },
    {
      name: 'availability: one staff member',
      description: 'appointments of one staff member in a 14-day range (booking check)',
      sql: `select "id", "staff_id", "starts_at", "ends_at", "buffer_minutes" from "appointments" where "staff_id" in (?) and not "status" = ? and "starts_at" < ? and "starts_at" > ? and app_plus_minutes(ends_at, buffer_minutes) > ? and "appointments"."company_id" = ?`,
      bindings: availability(p.staffIds.slice(0, 1)),
    },
    {
      name: 'availability: all staff',
      description: 'appointments of every candidate in a 14-day range (availableSlots)',
      sql: `select "id", "staff_id", "starts_at", "ends_at", "buffer_minutes" from "appointments" where "staff_id" in (${marks(p.staffIds.length)}) and not "status" = ? and "starts_at" < ? and "starts_at" > ? and app_plus_minutes(ends_at, buffer_minutes) > ? and "appointments"."company_id" = ?`,
      bindings: availability(p.staffIds),
    },
    {
      name: 'node(id)',
      description: 'node(id: <Appointment>): DataLoader by id',
      sql: `select "appointments".* from "appointments" where "id" in (?) and "appointments"."company_id" = ?`,
      bindings: [p.appointmentId, c],
    },
  ];
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Plan Rows': number;
  'Actual Rows'?: number;
  'Sort Key'?: string[];
  Plans?: PlanNode[];
}

export interface PlanStep {
  type: string;
  relation?: string;
  index?: string;
  rows: number;
}

export interface PlanSummary {
  steps: PlanStep[];
  /** Seq Scans on tenant tables over the row limit (natural) or on any tenant table (forced). */
  seqScans: PlanStep[];
  /** Sorts of many more rows than the page returns. */
  bigSorts: PlanStep[];
  indexes: string[];
  executionMs?: number;
}

export interface QueryCheck {
  name: string;
  description: string;
  natural: PlanSummary;
  forced: PlanSummary;
  ok: boolean;
  problems: string[];
  warnings: string[];
}

export interface ExplainOptions {
  seqScanRowLimit?: number;
  /** EXPLAIN ANALYZE the natural plan too (the bench reports execution times). */
  analyze?: boolean;
}

/** Tenant tables (those with company_id) and their estimated row counts. */
export async function tenantTableRows(knex: Knex): Promise<Map<string, number>> {
  const { rows } = await knex.raw<{ rows: { table: string; rows: number }[] }>(`
    select c.relname as table, greatest(c.reltuples, 0)::bigint::int as rows
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = 'public' and c.relkind = 'r'
       and exists (select 1 from pg_attribute a
                    where a.attrelid = c.oid and a.attname = 'company_id' and not a.attisdropped)`);
  return new Map(rows.map((r) => [r.table, Number(r.rows)]));
}

function flatten(node: PlanNode, out: PlanStep[] = []): PlanStep[] {
  // A Sort's own row estimate is its output (often the LIMIT); what it sorts is its input.
  out.push({
    type: node['Node Type'],
    relation: node['Relation Name'],
    index: node['Index Name'],
    rows:
      node['Node Type'] === 'Sort'
        ? (node.Plans?.[0]?.['Plan Rows'] ?? node['Plan Rows'])
        : node['Plan Rows'],
  });
  for (const child of node.Plans ?? []) flatten(child, out);
  return out;
}

function summarise(
  plan: PlanNode,
  tables: Map<string, number>,
  seqLimit: number,
  limit: number | undefined,
): PlanSummary {
  const steps = flatten(plan);
  const seqScans = steps.filter(
    (s) =>
      s.type === 'Seq Scan' &&
      s.relation !== undefined &&
      tables.has(s.relation) &&
      (tables.get(s.relation) ?? 0) > seqLimit,
  );
  const bigSorts =
    limit === undefined ? [] : steps.filter((s) => s.type === 'Sort' && s.rows > limit * 10);
  const indexes = [...new Set(steps.map((s) => s.index).filter((i): i is string => !!i))];
  return { steps, seqScans, bigSorts, indexes };
}

/**
 * EXPLAINs every query as `runtime` (a knex whose connections run as the runtime role) inside a
 * transaction bound to the company, as the server does.
 */
export async function checkHotQueries(
  runtime: Knex,
  queries: HotQuery[],
  companyId: string,
  options: ExplainOptions = {},
): Promise<QueryCheck[]> {
  const seqLimit = options.seqScanRowLimit ?? 2000;
  const tables = await tenantTableRows(runtime);
  const results: QueryCheck[] = [];
  for (const q of queries) {
    const explain = async (forced: boolean, analyze: boolean) =>
      runtime.transaction(async (trx) => {
        await trx.raw(`select set_config('app.company_id', ?, true)`, [companyId]);
        if (forced) await trx.raw('set local enable_seqscan = off');
        const { rows } = await trx.raw<{ rows: { 'QUERY PLAN': unknown }[] }>(
          `explain (format json${analyze ? ', analyze, buffers' : ''}) ${q.sql}`,
          q.bindings,
        );
        const doc = rows[0]['QUERY PLAN'] as Array<{ Plan: PlanNode; 'Execution Time'?: number }>;
        return doc[0];
      });
    const naturalDoc = await explain(false, options.analyze ?? false);
    const forcedDoc = await explain(true, false);
    const natural = summarise(naturalDoc.Plan, tables, seqLimit, q.limit);
    if (naturalDoc['Execution Time'] !== undefined)
      natural.executionMs = naturalDoc['Execution Time'];
    const forced = summarise(forcedDoc.Plan, tables, -1, q.limit);
    const problems: string[] = [];
    const warnings: string[] = [];
    for (const s of natural.seqScans) {
      problems.push(`Seq Scan on ${s.relation} (${tables.get(s.relation!)} rows in the table)`);
    }
    for (const s of forced.seqScans) {
      problems.push(`no index serves ${s.relation}: Seq Scan even with enable_seqscan = off`);
    }
    if (forced.indexes.length === 0) problems.push('no index scan in the plan');
    for (const s of natural.bigSorts) {
      warnings.push(`sorts about ${s.rows} rows to return ${q.limit}: no index gives this order`);
    }
    results.push({
      name: q.name,
      description: q.description,
      natural,
      forced,
      ok: problems.length === 0,
      problems,
      warnings,
    });
  }
  return results;
}

/** "Index Scan appointments_company_starts_idx on appointments (rows 51)" lines, for reports. */
export function describePlan(summary: PlanSummary): string {
  return summary.steps
    .filter((s) => s.relation || s.type.includes('Sort') || s.index)
    .map(
      (s) =>
        `${s.type}${s.index ? ` ${s.index}` : ''}${s.relation ? ` on ${s.relation}` : ''} (~${s.rows})`,
    )
    .join(' → ');
}
