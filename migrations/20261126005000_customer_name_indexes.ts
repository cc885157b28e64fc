import type { Knex } from 'knex';

/**
 * Customer list order and name search that use an index under row level security. Only leakproof
 * operators can become index conditions ahead of the tenant policy: lower() and LIKE are not, so
 * prefix search uses a stored lower-cased column (C collation) compared with >= and <, which are.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('create index customers_company_name_idx on customers (company_id, name, id)');
  await knex.raw(
    `alter table customers add column name_search text collate "C" generated always as (lower(name)) stored`,
  );
  await knex.raw(
    'create index customers_name_prefix_idx on customers (company_id, name_search, id)',
  );
  await knex.raw('drop index customers_name_search_idx');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(
    'create index customers_name_search_idx on customers (company_id, lower(name) text_pattern_ops)',
  );
  await knex.raw('drop index customers_name_prefix_idx');
  await knex.raw('alter table customers drop column name_search');
  await knex.raw('drop index customers_company_name_idx');
}
