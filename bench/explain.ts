import type { Knex } from 'knex';

/**
 * The SQL of the hot read paths, written as the server sends it (knex output of the resolvers and
 * the scheduling data loader, with the tenant filter `company_id = ?` that the tenant query builder
 * adds), and a checker that EXPLAINs each one as the runtime role inside a tenant transaction, so
 * row level security is part of the plan.
 *
 * Two plans per query:
 * - natural: what the planner picks with the current statistics. A Seq Scan on a tenant table
 *   larger than `seqScanRowLimit` rows is a problem (at 1x and 10x every table is small and a
 *   sequential scan is the right plan, so this bites at 100x and 1000x).
 * - forced (`enable_seqscan = off`, executed with ANALYZE): the best index-only plan. Every
 *   tenant table has a primary key starting with company_id, so "uses an index" alone proves
 *   nothing; what counts is that the index fits: a scan that discards most of what it reads, or a
 *   Sort of far more rows than the page returns, means the query reads every row of the tenant.
 */

/** Sources of the SQL below, to keep them in step. */
export const SQL_SOURCES = [
  'src/resolvers/appointment.ts + src/graphql/connection.ts (paginate)',
  'src/graphql/loaders.ts (loaderFor: where id in (...))',
  'src/resolvers/customer.ts (customers, search)',
  'src/resolvers/dashboard.ts',
  'src/scheduling/data.ts (loadSchedules, loadScope withWorkingHours, loadBusy)',
];

export interface HotQueryParams {
  companyId: string;
  staffIds: string[];
  /** The service availability is asked for (a nil id gives the same plan when not known). */
  serviceId?: string;
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
  const service = p.serviceId ?? '00000000-0000-0000-0000-000000000000';
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
      description: `customers(filter: {search: "${p.namePrefix}"}): a range on name_search`,
      sql: `select "customers".* from "customers" where "archived_at" is null and "name_search" >= ? and "name_search" < ? and "customers"."company_id" = ? order by "customers"."name_search" asc, "customers"."id" asc limit ?`,
      bindings: [p.namePrefix.toLowerCase(), `${p.namePrefix.toLowerCase()}\u{10FFFF}`, c, 21],
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
      name: 'availability: staff and hours',
      description: 'availableSlots: candidate staff with their working hours, one statement',
      sql: `select "staff"."id", "staff"."name", "staff"."branch_id", "staff"."archived_at", exists (select 1 from staff_services ss where ss.company_id = staff.company_id and ss.staff_id = staff.id and ss.service_id = ?) as performs_service, exists (select 1 from staff_services ss where ss.company_id = staff.company_id and ss.service_id = ?) as service_has_staff, (select coalesce(json_agg(json_build_object('weekday', wh.weekday, 'startsAt', wh.starts_at, 'endsAt', wh.ends_at, 'validFrom', wh.valid_from, 'validUntil', wh.valid_until, 'branchId', wh.branch_id)), '[]'::json) from working_hours wh where wh.company_id = staff.company_id and wh.staff_id = staff.id) as working_hours from "staff" where "staff"."company_id" = ? and "staff"."archived_at" is null order by "staff"."name" asc, "staff"."id" asc`,
      bindings: [service, service, c],
    },
    {
      name: 'availability: busy window',
      description:
        'availableSlots: appointments and time off of every candidate in the first window (one day)',
      sql: `(select 'appointment' as kind, "appointments"."id", "appointments"."staff_id", "appointments"."starts_at", app_plus_minutes(appointments.ends_at, appointments.buffer_minutes) as busy_until from "appointments" where "appointments"."company_id" = ? and "appointments"."staff_id" in (${marks(p.staffIds.length)}) and not "appointments"."status" = ? and "appointments"."starts_at" < ? and "appointments"."starts_at" > ? and app_plus_minutes(appointments.ends_at, appointments.buffer_minutes) > ?) union all (select 'time_off' as kind, "time_off"."id", "time_off"."staff_id", "time_off"."starts_at", time_off.ends_at as busy_until from "time_off" where "time_off"."company_id" = ? and "time_off"."staff_id" in (${marks(p.staffIds.length)}) and "time_off"."starts_at" < ? and "time_off"."ends_at" > ?)`,
      bindings: [
        c,
        ...p.staffIds,
        'cancelled',
        new Date(from.getTime() + DAY + 30 * 60_000),
        new Date(from.getTime() - (1440 + 240) * 60_000),
        from,
        c,
        ...p.staffIds,
        new Date(from.getTime() + DAY + 30 * 60_000),
        from,
      ],
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
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  Plans?: PlanNode[];
}

export interface PlanStep {
  type: string;
  relation?: string;
  index?: string;
  /** Estimated rows (for a Sort: the rows it sorts, its input). */
  rows: number;
  /** With ANALYZE: rows the node produced over all loops (for a Sort: its input). */
  actualRows?: number;
  /** With ANALYZE: rows a scan read and threw away (filter and recheck), over all loops. */
  removedRows?: number;
}

export interface PlanSummary {
  steps: PlanStep[];
  indexes: string[];
  executionMs?: number;
}

export interface QueryCheck {
  name: string;
  description: string;
  /** The planner's choice with the current statistics. */
  natural: PlanSummary;
  /** The best plan that uses indexes only (enable_seqscan = off), executed. */
  forced: PlanSummary;
  ok: boolean;
  problems: string[];
  warnings: string[];
}

export interface ExplainOptions {
  /** A natural-plan Seq Scan on a tenant table larger than this fails; default 2000 rows. */
  seqScanRowLimit?: number;
  /**
   * Rows an index path may read and discard (or sort beyond the page) before it counts as not
   * serving the query; default 100 (reading a hundred extra index entries costs microseconds).
   */
  wasteAllowance?: number;
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
  const loops = node['Actual Loops'] ?? 1;
  const isSort = node['Node Type'] === 'Sort';
  // A Sort's own row count is its output (often the LIMIT); what it had to sort is its input.
  const input = isSort ? node.Plans?.[0] : undefined;
  const actual = (input ?? node)['Actual Rows'];
  const removed =
    (node['Rows Removed by Filter'] ?? 0) + (node['Rows Removed by Index Recheck'] ?? 0);
  out.push({
    type: node['Node Type'],
    relation: node['Relation Name'],
    index: node['Index Name'],
    rows: (input ?? node)['Plan Rows'],
    actualRows: actual === undefined ? undefined : actual * ((input ?? node)['Actual Loops'] ?? 1),
    removedRows: actual === undefined ? undefined : removed * loops,
  });
  for (const child of node.Plans ?? []) flatten(child, out);
  return out;
}

function summarise(plan: PlanNode): PlanSummary {
  const steps = flatten(plan);
  const indexes = [...new Set(steps.map((s) => s.index).filter((i): i is string => !!i))];
  return { steps, indexes };
}

/**
 * EXPLAINs every query as `runtime` (a knex whose connections run as the runtime role) inside a
 * transaction bound to the company, as the server does, and judges the plans:
 * - natural plan: a Seq Scan on a tenant table over `seqScanRowLimit` rows is a problem;
 * - forced plan (indexes only, executed): a Seq Scan left means no index serves the table; a scan
 *   that reads and discards more than max(allowance, 2 × what it keeps) rows, or a Sort of more
 *   than max(allowance, 2 × LIMIT) rows for a page, means the index does not fit the query (for
 *   example a page that reads and sorts every row of the tenant instead of walking an index).
 */
export async function checkHotQueries(
  runtime: Knex,
  queries: HotQuery[],
  companyId: string,
  options: ExplainOptions = {},
): Promise<QueryCheck[]> {
  const seqLimit = options.seqScanRowLimit ?? 2000;
  const allowance = options.wasteAllowance ?? 100;
  const tables = await tenantTableRows(runtime);
  const isTenant = (s: PlanStep) => s.relation !== undefined && tables.has(s.relation);
  const results: QueryCheck[] = [];
  /** What in an index-only plan shows that the indexes do not fit the query. */
  const misfits = (summary: PlanSummary, limit: number | undefined): string[] => {
    const out: string[] = [];
    for (const s of summary.steps) {
      if (s.type === 'Seq Scan' && isTenant(s)) {
        out.push(`no index serves ${s.relation}: Seq Scan even with enable_seqscan = off`);
      }
      const kept = s.actualRows ?? 0;
      const removed = s.removedRows ?? 0;
      if (isTenant(s) && removed > Math.max(allowance, 2 * kept)) {
        out.push(
          `${s.type}${s.index ? ` ${s.index}` : ''} on ${s.relation} reads ${removed + kept} rows to keep ${kept}: no index fits the filter`,
        );
      }
      if (limit !== undefined && s.type === 'Sort' && kept > Math.max(allowance, 2 * limit)) {
        out.push(`sorts ${kept} rows to return ${limit}: no index gives this order`);
      }
    }
    return out;
  };
  for (const q of queries) {
    const explain = async (mode: 'natural' | 'forced' | 'strict', analyze: boolean) =>
      runtime.transaction(async (trx) => {
        await trx.raw(`select set_config('app.company_id', ?, true)`, [companyId]);
        if (mode !== 'natural') await trx.raw('set local enable_seqscan = off');
        if (mode === 'strict') await trx.raw('set local enable_bitmapscan = off');
        const { rows } = await trx.raw<{ rows: { 'QUERY PLAN': unknown }[] }>(
          `explain (format json${analyze ? ', analyze' : ''}) ${q.sql}`,
          q.bindings,
        );
        const doc = rows[0]['QUERY PLAN'] as Array<{ Plan: PlanNode; 'Execution Time'?: number }>;
        return doc[0];
      });
    const naturalDoc = await explain('natural', options.analyze ?? false);
    const forcedDoc = await explain('forced', true);
    const natural = summarise(naturalDoc.Plan);
    natural.executionMs = naturalDoc['Execution Time'];
    let forced = summarise(forcedDoc.Plan);
    forced.executionMs = forcedDoc['Execution Time'];

    const problems: string[] = [];
    const warnings: string[] = [];
    for (const s of natural.steps) {
      if (s.type === 'Seq Scan' && isTenant(s) && (tables.get(s.relation!) ?? 0) > seqLimit) {
        problems.push(`Seq Scan on ${s.relation} (${tables.get(s.relation!)} rows in the table)`);
      }
    }
    let misfit = misfits(forced, q.limit);
    if (misfit.length > 0) {
      // A bitmap scan of the whole tenant can be the planner's cheapest choice on a small tenant
      // even when a fitting index exists; plain index scans only tell the two apart.
      const strictDoc = await explain('strict', true);
      const strict = summarise(strictDoc.Plan);
      strict.executionMs = strictDoc['Execution Time'];
      const strictMisfit = misfits(strict, q.limit);
      if (strictMisfit.length < misfit.length) {
        warnings.push(
          ...misfit.map(
            (m) => `planner's choice: ${m}; with plain index scans: ${describePlan(strict)}`,
          ),
        );
        forced = strict;
        misfit = strictMisfit;
      }
    }
    problems.push(...misfit);
    if (forced.indexes.length === 0) problems.push('no index scan in the plan');
    for (const s of natural.steps) {
      if (
        q.limit !== undefined &&
        s.type === 'Sort' &&
        s.rows > Math.max(allowance, 10 * q.limit)
      ) {
        warnings.push(`the planner expects to sort ${s.rows} rows for a page of ${q.limit}`);
      }
    }
    results.push({
      name: q.name,
      description: q.description,
      natural,
      forced,
      ok: problems.length === 0,
      problems: [...new Set(problems)],
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
        `${s.type}${s.index ? ` ${s.index}` : ''}${s.relation ? ` on ${s.relation}` : ''} (${
          s.actualRows !== undefined
            ? `${s.actualRows} rows${s.removedRows ? `, ${s.removedRows} discarded` : ''}`
            : `~${s.rows}`
        })`,
    )
    .join(' → ');
}
