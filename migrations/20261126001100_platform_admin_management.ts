import type { Knex } from 'knex';
import { PLATFORM_ROLE, RUNTIME_ROLE } from './lib/v1';

/**
 * Creating a platform admin (super admin). The runtime role cannot write platform_admins; this
 * function can, and the API lets only a signed-in super admin call it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`grant insert on platform_admins to ${PLATFORM_ROLE}`);
  await knex.raw(`
    create function platform_create_admin(p_email citext, p_name text, p_password_hash text)
    returns uuid
    language sql volatile security definer set search_path = pg_catalog, public as $$
      insert into platform_admins (email, name, password_hash) values (p_email, p_name, p_password_hash)
      returning id
    $$`);
  await knex.raw(
    `alter function platform_create_admin(citext, text, text) owner to ${PLATFORM_ROLE}`,
  );
  await knex.raw('revoke all on function platform_create_admin(citext, text, text) from public');
  await knex.raw(
    `grant execute on function platform_create_admin(citext, text, text) to ${RUNTIME_ROLE}`,
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop function platform_create_admin(citext, text, text)');
  await knex.raw(`revoke insert on platform_admins from ${PLATFORM_ROLE}`);
}
