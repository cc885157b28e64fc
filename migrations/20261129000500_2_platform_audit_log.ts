import type { Knex } from 'knex';

/**
 * The platform audit trail: what platform admins (super admins) did at platform level — creating
 * another platform admin, acting inside a company with X-Company-Id, replaying a webhook event
 * across companies. A platform table (no company_id: an entry may concern no company), written and
 * read only by the platform caller role; the runtime role has no privilege on it. Append-only: no
 * role the server uses may update or delete an entry. target_company_id and actor_id carry no
 * foreign key, so the trail outlives the company or admin it names.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('platform_audit_log', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.timestamp('at', { useTz: true })
      .notNullable()
      .defaultTo(knex.raw("date_trunc('milliseconds', now())"));
    t.text('actor_type').notNullable();
    t.uuid('actor_id');
    t.text('action').notNullable();
    t.uuid('target_company_id');
    t.jsonb('details').notNullable().defaultTo('{}');
    t.text('request_id');
    t.text('ip');
    t.check(`actor_type in ('platform_admin','system')`, [], 'platform_audit_log_actor_type');
    t.check('length(action) between 1 and 100', [], 'platform_audit_log_action_length');
  });
  // Newest first, keyset-paginated.
  await knex.raw('create index platform_audit_log_at_idx on platform_audit_log (at desc, id desc)');
  await knex.raw('revoke all on platform_audit_log from public');
  await knex.raw('grant select, insert on platform_audit_log to app_platform_client');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('platform_audit_log');
}
