import type { Knex } from 'knex';

/**
 * A company's own GraphQL points limit per window (null: the platform default). Only a super admin
 * changes it, through a SECURITY DEFINER function: the runtime role may read the column (its own
 * company's row) but not write it, so a company cannot raise its own limit.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`alter table companies add column api_points_per_hour integer`);
  await knex.raw(
    `alter table companies add constraint companies_api_points_range check (api_points_per_hour is null or api_points_per_hour between 1 and 1000000000)`,
  );
  await knex.raw(`grant update (api_points_per_hour) on companies to app_platform`);
  await knex.raw(`
    create function platform_set_company_api_points(p_company uuid, p_points integer)
    returns integer
    language sql volatile security definer set search_path = pg_catalog, public as $$
      with previous as (select api_points_per_hour from companies where id = p_company)
      update companies set api_points_per_hour = p_points where id = p_company
      returning (select api_points_per_hour from previous)
    $$`);
  await knex.raw(
    `alter function platform_set_company_api_points(uuid, integer) owner to app_platform`,
  );
  await knex.raw(
    'revoke all on function platform_set_company_api_points(uuid, integer) from public',
  );
  await knex.raw(
    `grant execute on function platform_set_company_api_points(uuid, integer) to app_platform_client`,
  );
  // The companies with a limit of their own, read by the server every minute (not per request).
  await knex.raw(`
    create function platform_company_api_points()
    returns table (id uuid, api_points_per_hour integer)
    language sql stable security definer set search_path = pg_catalog, public as $$
      select c.id, c.api_points_per_hour from companies c where c.api_points_per_hour is not null
    $$`);
  await knex.raw(`alter function platform_company_api_points() owner to app_platform`);
  await knex.raw('revoke all on function platform_company_api_points() from public');
  await knex.raw(`grant execute on function platform_company_api_points() to app_platform_client`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop function platform_company_api_points()');
  await knex.raw('drop function platform_set_company_api_points(uuid, integer)');
  await knex.raw(`revoke update (api_points_per_hour) on companies from app_platform`);
  await knex.raw('alter table companies drop column api_points_per_hour');
}
