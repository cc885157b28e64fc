import type { Knex } from 'knex';
import { createTenantTable } from './lib/v1';

/**
 * The audit trail of a company. Append-only for the runtime role (no update or delete grant).
 * actor_id names a user, an API token or a platform admin, so it has no foreign key.
 */
export async function up(knex: Knex): Promise<void> {
  await createTenantTable(
    knex,
    'activity_logs',
    (t) => {
      t.text('actor_type').notNullable();
      t.uuid('actor_id');
      t.text('action').notNullable();
      t.text('subject_type');
      t.uuid('subject_id');
      t.text('reason');
      t.jsonb('details').notNullable().defaultTo('{}');
      t.text('request_id');
      t.text('ip');
      t.check(
        `actor_type in ('user','api_token','platform_admin','system','webhook','voice_agent')`,
        [],
        'activity_logs_actor_type',
      );
      t.index(['company_id', 'created_at'], 'activity_logs_company_created_idx');
      t.index(['company_id', 'subject_type', 'subject_id'], 'activity_logs_subject_idx');
    },
    { grants: 'select, insert' },
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('activity_logs');
}
