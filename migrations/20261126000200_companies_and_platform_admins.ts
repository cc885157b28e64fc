import type { Knex } from 'knex';
import { CURRENT_TENANT_SQL, PLATFORM_ROLE, RUNTIME_ROLE } from './lib/v1';

/**
 * Companies are the tenants. Platform operators (super admins) are not users of any company: they
 * live in platform_admins, so no tenant row ever needs a NULL company_id to describe them.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('companies', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('name').notNullable();
    t.specificType('slug', 'citext').notNullable().unique();
    t.text('timezone').notNullable().defaultTo('Europe/Berlin');
    t.string('default_region', 2).notNullable().defaultTo('DE');
    t.string('currency', 3).notNullable().defaultTo('EUR');
    t.timestamp('archived_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(
    `alter table companies add constraint companies_slug_format check (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$')`,
  );
  await knex.raw('alter table companies enable row level security');
  await knex.raw('alter table companies force row level security');
  await knex.raw(
    `create policy tenant_isolation on companies using (id = ${CURRENT_TENANT_SQL}) with check (id = ${CURRENT_TENANT_SQL})`,
  );
  await knex.raw(
    `grant select, update (name, timezone, default_region, currency) on companies to ${RUNTIME_ROLE}`,
  );
  await knex.raw(`grant select on companies to ${PLATFORM_ROLE}`);
  await knex.raw(
    'create trigger companies_touch before update on companies for each row execute function app_touch_updated_at()',
  );

  await knex.schema.createTable('platform_admins', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.specificType('email', 'citext').notNullable().unique();
    t.text('name').notNullable();
    t.text('password_hash').notNullable();
    t.timestamp('disabled_at', { useTz: true });
    t.timestamp('last_login_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  // The runtime role gets no privilege on platform_admins: it is read through platform functions.
  await knex.raw('alter table platform_admins enable row level security');
  await knex.raw('alter table platform_admins force row level security');
  await knex.raw(`grant select, update (last_login_at) on platform_admins to ${PLATFORM_ROLE}`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('platform_admins');
  await knex.schema.dropTable('companies');
}
