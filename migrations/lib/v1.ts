import type { Knex } from 'knex';

/**
 * Migration helpers, version 1: the building blocks the 2026-11-26 migrations were written with.
 * FROZEN: never edit this file. A migration that has run must do the same thing on every new
 * database, so a change here would rewrite history. A later migration that needs different
 * helpers copies what it needs into itself (or into a new `v2.ts`); runtime code never imports
 * from here (src/db/schema-helpers.ts holds the role names it needs).
 *
 * Every tenant-owned table of those migrations is created through `createTenantTable`, which
 * applies the tenancy invariants in one place: `company_id NOT NULL` referencing companies,
 * primary key `(company_id, id)`, row level security enabled and forced with the
 * per-transaction tenant policy, and grants for the runtime role.
 */

export const RUNTIME_ROLE = 'app_runtime';
export const PLATFORM_ROLE = 'app_platform';

/** The tenant set by `set_config('app.company_id', $1, true)`; an unset or empty value means no rows. */
export const CURRENT_TENANT_SQL = `(select nullif(current_setting('app.company_id', true), ''))::uuid`;

export interface TenantRef {
  column: string;
  table: string;
  nullable?: boolean;
  /** CASCADE, RESTRICT, or SET NULL (which nulls only the referencing column, never company_id). */
  onDelete?: 'CASCADE' | 'RESTRICT' | 'SET NULL';
  /** false when a longer index with the same leading columns is created separately. */
  index?: boolean;
}

export interface TenantTableOptions {
  /**
   * References to other tenant-owned rows. Each becomes a column plus a composite foreign key
   * `(company_id, column) -> table(company_id, id)`, so a row can never point at another company's row.
   */
  refs?: TenantRef[];
  /** Privileges the runtime role gets; activity logs, for example, are append-only. */
  grants?: string;
}

export async function createTenantTable(
  knex: Knex,
  name: string,
  build: (t: Knex.CreateTableBuilder) => void,
  options: TenantTableOptions = {},
): Promise<void> {
  const refs = options.refs ?? [];
  await knex.schema.createTable(name, (t) => {
    t.uuid('id').notNullable().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('company_id').notNullable().references('id').inTable('companies').onDelete('CASCADE');
    for (const ref of refs) {
      const col = t.uuid(ref.column);
      if (!ref.nullable) col.notNullable();
    }
    build(t);
    t.timestamp('created_at', { useTz: true })
      .notNullable()
      .defaultTo(knex.raw("date_trunc('milliseconds', now())"));
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['company_id', 'id'], { constraintName: `${name}_pkey` });
  });
  for (const ref of refs) await addTenantForeignKey(knex, name, ref);
  await enableTenantSecurity(knex, name, options.grants);
  await knex.raw(
    `create trigger ?? before update on ?? for each row execute function app_touch_updated_at()`,
    [`${name}_touch`, name],
  );
}

export async function addTenantForeignKey(
  knex: Knex,
  table: string,
  ref: TenantRef,
): Promise<void> {
  const onDelete = ref.onDelete ?? (ref.nullable ? 'SET NULL' : 'RESTRICT');
  // Raw SQL because knex cannot express `ON DELETE SET NULL (column)` (Postgres 15+), which keeps
  // company_id intact when the referenced row goes away.
  const action = onDelete === 'SET NULL' ? `set null (${ref.column})` : onDelete.toLowerCase();
  await knex.raw(
    `alter table ?? add constraint ?? foreign key (company_id, ??) references ?? (company_id, id) on delete ${action}`,
    [table, `${table}_${ref.column}_fkey`, ref.column, ref.table],
  );
  if (ref.index !== false) {
    await knex.raw(`create index ?? on ?? (company_id, ??)`, [
      `${table}_${ref.column}_idx`,
      table,
      ref.column,
    ]);
  }
}

/** Row level security, enabled and forced, comparing company_id with the transaction's tenant. */
export async function enableTenantSecurity(
  knex: Knex,
  name: string,
  grants = 'select, insert, update, delete',
): Promise<void> {
  await knex.raw(`alter table ?? enable row level security`, [name]);
  await knex.raw(`alter table ?? force row level security`, [name]);
  await knex.raw(
    `create policy tenant_isolation on ?? using (company_id = ${CURRENT_TENANT_SQL}) with check (company_id = ${CURRENT_TENANT_SQL})`,
    [name],
  );
  await knex.raw(`grant ${grants} on ?? to ${RUNTIME_ROLE}`, [name]);
  await knex.raw(`grant select on ?? to ${PLATFORM_ROLE}`, [name]);
}

/** The appointment vocabulary as the appointments migration created its check constraints. */
export const APPOINTMENT_STATUSES = [
  'scheduled',
  'confirmed',
  'completed',
  'no_show',
  'cancelled',
] as const;
export const APPOINTMENT_SOURCES = ['phone', 'web', 'calcom', 'manual'] as const;
