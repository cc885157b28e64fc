import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import * as models from '../../src/models';
import { TenantModel } from '../../src/models';

/**
 * The tenant tables as Postgres sees them (read from pg_catalog, so a table added later is found
 * without anyone listing it), the model class of each, and fixture rows: for each of two companies
 * one row in every tenant table, each pointing at its own company's rows through every foreign key.
 */

export interface ColumnInfo {
  name: string;
  /** format_type, e.g. `text`, `timestamp with time zone`, `text[]`. */
  type: string;
  notNull: boolean;
  hasDefault: boolean;
}

export interface ForeignKey {
  name: string;
  table: string;
  columns: string[];
  refTable: string;
  refColumns: string[];
}

export interface IndexInfo {
  name: string;
  table: string;
  method: string;
  unique: boolean;
  primary: boolean;
  exclusion: boolean;
  partial: boolean;
  /** Key columns (or expressions) in order, without INCLUDE columns. */
  keys: string[];
  /** Operator class of each key, so `text_pattern_ops` and the default are told apart. */
  opclasses: string[];
}

export interface Catalog {
  /** Every table in schema public that has a company_id column, sorted by name. */
  tenantTables: string[];
  columns: Map<string, ColumnInfo[]>;
  foreignKeys: ForeignKey[];
  indexes: IndexInfo[];
}

/** Postgres arrays come back parsed from pg, but some drivers return name[] as `{a,b}` text. */
function asArray(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  if (typeof value === 'string') {
    const inner = value.replace(/^\{|\}$/g, '');
    return inner === '' ? [] : inner.split(',').map((s) => s.replace(/^"|"$/g, ''));
  }
  return [];
}

async function rows<T>(knex: Knex, sql: string, bindings: readonly unknown[] = []): Promise<T[]> {
  const result = await knex.raw<{ rows: T[] }>(sql, bindings as Knex.RawBinding[]);
  return result.rows;
}

export async function readCatalog(knex: Knex): Promise<Catalog> {
  const tables = await rows<{ table: string }>(
    knex,
    `select c.relname::text as table
       from pg_class c
       join pg_namespace n on n.oid = c.relnamespace
       join pg_attribute a on a.attrelid = c.oid and a.attname = 'company_id' and not a.attisdropped
      where n.nspname = 'public' and c.relkind in ('r', 'p')
      order by 1`,
  );
  const columnRows = await rows<{
    table: string;
    name: string;
    type: string;
    not_null: boolean;
    has_default: boolean;
  }>(
    knex,
    `select c.relname::text as table, a.attname::text as name,
            format_type(a.atttypid, a.atttypmod) as type, a.attnotnull as not_null,
            (a.atthasdef or a.attidentity <> '' or a.attgenerated <> '') as has_default
       from pg_class c
       join pg_namespace n on n.oid = c.relnamespace
       join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
      where n.nspname = 'public' and c.relkind in ('r', 'p')
      order by c.relname, a.attnum`,
  );
  const fkRows = await rows<{
    name: string;
    table: string;
    columns: unknown;
    ref_table: string;
    ref_columns: unknown;
  }>(
    knex,
    `select con.conname::text as name, c.relname::text as table, r.relname::text as ref_table,
            array(select a.attname::text from unnest(con.conkey) with ordinality k(num, ord)
                    join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.num
                   order by k.ord) as columns,
            array(select a.attname::text from unnest(con.confkey) with ordinality k(num, ord)
                    join pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.num
                   order by k.ord) as ref_columns
       from pg_constraint con
       join pg_class c on c.oid = con.conrelid
       join pg_namespace n on n.oid = c.relnamespace
       join pg_class r on r.oid = con.confrelid
      where con.contype = 'f' and n.nspname = 'public'
      order by c.relname, con.conname`,
  );
  const indexRows = await rows<{
    name: string;
    table: string;
    method: string;
    unique: boolean;
    primary: boolean;
    exclusion: boolean;
    partial: boolean;
    keys: unknown;
    opclasses: unknown;
  }>(
    knex,
    `select ic.relname::text as name, c.relname::text as table, am.amname::text as method,
            i.indisunique as unique, i.indisprimary as primary, i.indisexclusion as exclusion,
            i.indpred is not null as partial,
            array(select pg_get_indexdef(i.indexrelid, k, true)
                    from generate_series(1, i.indnkeyatts::int) k order by k) as keys,
            array(select coalesce(opc.opcname::text, '')
                    from generate_series(1, i.indnkeyatts::int) k
                    left join pg_opclass opc on opc.oid = i.indclass[k - 1]
                   order by k) as opclasses
       from pg_index i
       join pg_class ic on ic.oid = i.indexrelid
       join pg_class c on c.oid = i.indrelid
       join pg_namespace n on n.oid = c.relnamespace
       join pg_am am on am.oid = ic.relam
      where n.nspname = 'public'
      order by c.relname, ic.relname`,
  );

  const columns = new Map<string, ColumnInfo[]>();
  for (const r of columnRows) {
    const list = columns.get(r.table) ?? [];
    list.push({ name: r.name, type: r.type, notNull: r.not_null, hasDefault: r.has_default });
    columns.set(r.table, list);
  }
  return {
    tenantTables: tables.map((t) => t.table),
    columns,
    foreignKeys: fkRows.map((r) => ({
      name: r.name,
      table: r.table,
      columns: asArray(r.columns),
      refTable: r.ref_table,
      refColumns: asArray(r.ref_columns),
    })),
    indexes: indexRows.map((r) => ({
      name: r.name,
      table: r.table,
      method: r.method,
      unique: r.unique,
      primary: r.primary,
      exclusion: r.exclusion,
      partial: r.partial,
      keys: asArray(r.keys),
      opclasses: asArray(r.opclasses),
    })),
  };
}

export type TenantModelClass = typeof TenantModel;

/** Table name to model class, for every tenant model exported by src/models/index.ts. */
export function tenantModelsByTable(): Map<string, TenantModelClass> {
  const byTable = new Map<string, TenantModelClass>();
  for (const value of Object.values(models) as unknown[]) {
    if (typeof value !== 'function' || value === TenantModel) continue;
    if (!(value.prototype instanceof TenantModel)) continue;
    const modelClass = value as TenantModelClass;
    const existing = byTable.get(modelClass.tableName);
    if (existing && existing !== modelClass) {
      throw new Error(`two models for table ${modelClass.tableName}`);
    }
    byTable.set(modelClass.tableName, modelClass);
  }
  return byTable;
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');
const at = (days: number, hour: number) =>
  new Date(Date.UTC(2031, 0, 6 + days, hour, 0, 0)).toISOString();

/**
 * Values for the columns of each tenant table that the generic filler cannot guess (checked
 * formats, enumerations, value ranges, per-company unique values). `n` numbers the row within its
 * company and `label` names the company, so each call gives values unique within the company.
 * Foreign key columns are filled from the catalog, so they are not listed here. A tenant table
 * without an entry fails the isolation tests: add one (often `() => ({})`) with a new table.
 */
export const FIXTURE_VALUES: Record<string, (n: number, label: string) => Record<string, unknown>> =
  {
    branches: (n, l) => ({ name: `${l} branch ${n}` }),
    staff: (n, l) => ({ name: `${l} staff ${n}`, email: `staff${n}@${l}.test` }),
    service_categories: (n, l) => ({ name: `${l} category ${n}` }),
    services: (n, l) => ({
      name: `${l} service ${n}`,
      duration_minutes: 30,
      buffer_minutes: 0,
      price_cents: 2500,
    }),
    staff_services: () => ({}),
    working_hours: (n) => ({ weekday: 1 + (n % 7), starts_at: '09:00', ends_at: '17:00' }),
    time_off: (n) => ({ starts_at: at(n, 8), ends_at: at(n, 18), reason: 'holiday' }),
    users: (n, l) => ({
      email: `user${n}@${l}.test`,
      name: `${l} user ${n}`,
      password_hash: 'not-a-password-hash',
      roles: '{admin}',
    }),
    user_sessions: (n, l) => ({
      family_id: randomUUID(),
      token_hash: `${l}-session-${n}`,
      expires_at: at(400, 0),
    }),
    api_tokens: (n, l) => ({
      name: `${l} token ${n}`,
      token_prefix: `tok${n}`,
      token_hash: `${l}-token-${n}`,
      scopes: '{appointments:read}',
    }),
    user_preferences: () => ({}),
    customers: (n, l) => ({
      name: `${l} customer ${n}`,
      phone_e164: `+49301${l === 'a' ? 1 : 2}${pad(n, 6)}`,
      email: `customer${n}@${l}.test`,
    }),
    customer_notes: (n) => ({ body: `note ${n}` }),
    retell_agents: (n, l) => ({ agent_id: `agent_${l}_${n}`, name: `${l} agent ${n}` }),
    phone_numbers: (n, l) => ({ number_e164: `+49302${l === 'a' ? 1 : 2}${pad(n, 6)}` }),
    calls: (n, l) => ({ retell_call_id: `call_${l}_${n}`, status: 'ended', direction: 'inbound' }),
    appointments: (n) => ({
      starts_at: at(n, 9),
      ends_at: at(n, 10),
      status: 'scheduled',
      source: 'manual',
      buffer_minutes: 0,
    }),
    // Row 0 takes the company-wide booking policy; later rows other types, so they never collide.
    policy_configurations: (n) => ({
      policy_type: n === 0 ? 'booking' : n % 2 ? 'cancellation' : 'rescheduling',
      config: JSON.stringify({ minNoticeHours: n }),
    }),
    callback_requests: (n, l) => ({ phone_e164: `+49303${l === 'a' ? 1 : 2}${pad(n, 6)}` }),
    activity_logs: (n) => ({ actor_type: 'system', action: `fixture.created.${n}` }),
    team_event_type_mappings: (n) => ({ calcom_event_type_id: 1000 + n }),
    calcom_team_members: (n, l) => ({ calcom_user_id: 2000 + n, email: `member${n}@${l}.test` }),
    // Not a real sealed secret: the isolation tests only need a row of the right shape.
    provider_credentials: (n, l) => ({
      provider: 'calcom',
      label: `${l} credential ${n}`,
      secret_key_id: 'fixture',
      secret_ciphertext: Buffer.alloc(29, n % 256),
    }),
    user_invitations: (n, l) => ({
      email: `invitee${n}@${l}.test`,
      roles: '{manager}',
      token_hash: `${l}-invitation-${n}`,
      expires_at: at(7, 0),
      invited_by_type: 'platform_admin',
    }),
    voice_agent_settings: () => ({ language: 'de' }),
    voice_function_calls: (n) => ({ function_name: 'list_services', outcome: 'ok', latency_ms: n }),
    voice_idempotency: (n) => ({
      function_name: 'book_appointment',
      args_hash: n.toString(16).padStart(64, '0'),
    }),
  };

/** A value for a NOT NULL column without default that FIXTURE_VALUES does not set. */
function genericValue(column: ColumnInfo, table: string, n: number, label: string): unknown {
  const type = column.type;
  if (type.endsWith('[]')) return '{}';
  if (type === 'uuid') return randomUUID();
  if (type === 'text' || type === 'citext' || type.startsWith('character')) {
    return `${label} ${table} ${column.name} ${n}`;
  }
  if (type === 'integer' || type === 'smallint' || type === 'bigint' || type === 'numeric')
    return 1;
  if (type === 'boolean') return true;
  if (type.startsWith('timestamp')) return at(n, 12);
  if (type === 'date') return at(n, 12).slice(0, 10);
  if (type.startsWith('time')) return '12:00';
  if (type === 'jsonb' || type === 'json') return '{}';
  throw new Error(`no generic fixture value for ${table}.${column.name} (${type})`);
}

/** Tenant tables in an order where every referenced table comes before the tables pointing at it. */
export function insertionOrder(catalog: Catalog): string[] {
  const tenant = new Set(catalog.tenantTables);
  const deps = new Map<string, Set<string>>();
  for (const t of catalog.tenantTables) deps.set(t, new Set());
  for (const fk of catalog.foreignKeys) {
    if (tenant.has(fk.table) && tenant.has(fk.refTable) && fk.table !== fk.refTable) {
      deps.get(fk.table)!.add(fk.refTable);
    }
  }
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (t: string, path: string[]) => {
    if (state.get(t) === 'done') return;
    if (state.get(t) === 'visiting')
      throw new Error(`foreign key cycle: ${[...path, t].join(' -> ')}`);
    state.set(t, 'visiting');
    for (const d of [...deps.get(t)!].sort()) visit(d, [...path, t]);
    state.set(t, 'done');
    order.push(t);
  };
  for (const t of catalog.tenantTables) visit(t, []);
  return order;
}

/** The foreign keys from one tenant table to another (company_id plus one column). */
export function tenantReferences(catalog: Catalog, table?: string): ForeignKey[] {
  const tenant = new Set(catalog.tenantTables);
  return catalog.foreignKeys.filter(
    (fk) =>
      tenant.has(fk.table) &&
      tenant.has(fk.refTable) &&
      (table === undefined || fk.table === table),
  );
}

/** The referencing column of a composite tenant foreign key (the one that is not company_id). */
export function referencingColumn(fk: ForeignKey): string {
  const others = fk.columns.filter((c) => c !== 'company_id');
  if (others.length !== 1) throw new Error(`${fk.name} is not (company_id, x_id)`);
  return others[0];
}

export interface CompanyFixture {
  label: string;
  companyId: string;
  /** The id of this company's fixture row in each tenant table. */
  rows: Map<string, string>;
}

export interface TenantFixtures {
  catalog: Catalog;
  models: Map<string, TenantModelClass>;
  a: CompanyFixture;
  b: CompanyFixture;
  /**
   * A new row (snake_case columns, no id) for `company` in `table`, with values unique within the
   * company for every `n` above 0, every foreign key pointing at the company's own fixture rows
   * unless `refs` says otherwise, and company_id set (delete it to let the model stamp it).
   */
  buildRow(
    table: string,
    company: CompanyFixture,
    n: number,
    refs?: Record<string, string | null>,
  ): Record<string, unknown>;
}

export class FixtureGapError extends Error {}

/** The tables that lack a model or a FIXTURE_VALUES entry; empty when every table is covered. */
export function fixtureGaps(catalog: Catalog, byTable: Map<string, TenantModelClass>): string[] {
  const gaps: string[] = [];
  for (const t of catalog.tenantTables) {
    if (!byTable.has(t)) gaps.push(`${t}: no model in src/models/index.ts`);
    if (!FIXTURE_VALUES[t])
      gaps.push(`${t}: no entry in FIXTURE_VALUES (test/helpers/tenant-fixtures.ts)`);
  }
  return gaps;
}

/**
 * Creates companies A and B and one row for each in every tenant table, through `owner` (a
 * connection that bypasses row level security: the test superuser, or `db.withOwner`).
 */
export async function createTenantFixtures(owner: Knex): Promise<TenantFixtures> {
  const catalog = await readCatalog(owner);
  const byTable = tenantModelsByTable();
  const gaps = fixtureGaps(catalog, byTable);
  if (gaps.length > 0)
    throw new FixtureGapError(`tenant tables not covered:\n  ${gaps.join('\n  ')}`);

  const suffix = randomUUID().slice(0, 8);
  const companies: { id: string; slug: string }[] = await owner('companies')
    .insert([
      { name: 'Company A', slug: `fixture-a-${suffix}` },
      { name: 'Company B', slug: `fixture-b-${suffix}` },
    ])
    .returning(['id', 'slug']);
  const idOf = (prefix: string) => companies.find((c) => c.slug.startsWith(prefix))!.id;
  const a: CompanyFixture = { label: 'a', companyId: idOf('fixture-a-'), rows: new Map() };
  const b: CompanyFixture = { label: 'b', companyId: idOf('fixture-b-'), rows: new Map() };

  const buildRow: TenantFixtures['buildRow'] = (table, company, n, refs = {}) => {
    const spec = FIXTURE_VALUES[table];
    if (!spec) throw new FixtureGapError(`no fixture values for ${table}`);
    const row: Record<string, unknown> = { ...spec(n, company.label) };
    for (const fk of tenantReferences(catalog, table)) {
      const column = referencingColumn(fk);
      if (column in refs) {
        row[column] = refs[column];
      } else if (fk.refTable !== table) {
        const target = company.rows.get(fk.refTable);
        if (!target) throw new Error(`${table}.${column}: no ${fk.refTable} row yet`);
        row[column] = target;
      }
    }
    for (const column of catalog.columns.get(table) ?? []) {
      if (column.name === 'id' || column.name === 'company_id') continue;
      if (column.name in row || !column.notNull || column.hasDefault) continue;
      row[column.name] = genericValue(column, table, n, company.label);
    }
    row.company_id = company.companyId;
    return row;
  };

  for (const table of insertionOrder(catalog)) {
    for (const company of [a, b]) {
      const [{ id }]: { id: string }[] = await owner(table)
        .insert(buildRow(table, company, 0))
        .returning('id');
      company.rows.set(table, id);
    }
  }
  return { catalog, models: byTable, a, b, buildRow };
}

/**
 * Snake-case row to the model's camelCase properties. Rows hold JSON columns as JSON text for raw
 * inserts; the model's JSON attributes are parsed back to values, which objection serialises.
 */
export function toModelInput(
  modelClass: TenantModelClass,
  row: Record<string, unknown>,
): Record<string, unknown> {
  const input = modelClass.columnNameMappers.parse(row) as Record<string, unknown>;
  const jsonAttributes = (modelClass.jsonAttributes as string[] | undefined) ?? [];
  for (const attribute of jsonAttributes) {
    const value = input[attribute];
    if (typeof value === 'string') input[attribute] = JSON.parse(value);
  }
  return input;
}

/** Every row of one company in every tenant table, as JSON, read through `owner`. */
export async function snapshotCompany(
  owner: Knex,
  catalog: Catalog,
  companyId: string,
): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const table of catalog.tenantTables) {
    const result = await owner.raw<{ rows: { row: unknown }[] }>(
      `select to_jsonb(t) as row from ?? t where t.company_id = ? order by t.id`,
      [table, companyId],
    );
    out[table] = result.rows.map((r) => r.row);
  }
  return out;
}
