import type { Knex } from 'knex';
import { createTenantTable } from './lib/v1';

/** Users of a company with their roles, sessions (refresh tokens), API tokens and preferences. */
export async function up(knex: Knex): Promise<void> {
  await createTenantTable(
    knex,
    'users',
    (t) => {
      t.specificType('email', 'citext').notNullable();
      t.text('name').notNullable();
      t.text('password_hash').notNullable();
      t.specificType('roles', 'text[]').notNullable().defaultTo('{}');
      t.timestamp('disabled_at', { useTz: true });
      t.timestamp('last_login_at', { useTz: true });
      t.unique(['company_id', 'email']);
      t.check(
        `roles <@ array['admin','manager','staff']::text[] and cardinality(roles) > 0`,
        [],
        'users_roles_known',
      );
    },
    { refs: [{ column: 'staff_id', table: 'staff', nullable: true }] },
  );

  // Refresh tokens: one row per issued token; rotation links a token to its successor, and reuse
  // of a rotated token revokes its whole family.
  await createTenantTable(
    knex,
    'user_sessions',
    (t) => {
      t.uuid('family_id').notNullable();
      t.text('token_hash').notNullable();
      t.timestamp('expires_at', { useTz: true }).notNullable();
      t.timestamp('rotated_at', { useTz: true });
      t.timestamp('revoked_at', { useTz: true });
      t.text('user_agent');
      t.text('ip');
      t.index(['company_id', 'family_id'], 'user_sessions_family_idx');
    },
    { refs: [{ column: 'user_id', table: 'users', onDelete: 'CASCADE' }] },
  );

  await createTenantTable(
    knex,
    'api_tokens',
    (t) => {
      t.text('name').notNullable();
      t.text('token_prefix').notNullable();
      t.text('token_hash').notNullable();
      t.specificType('scopes', 'text[]').notNullable();
      t.timestamp('expires_at', { useTz: true });
      t.timestamp('revoked_at', { useTz: true });
      t.timestamp('last_used_at', { useTz: true });
      t.unique(['company_id', 'token_hash']);
    },
    { refs: [{ column: 'created_by_user_id', table: 'users', nullable: true }] },
  );

  await createTenantTable(
    knex,
    'user_preferences',
    (t) => {
      t.text('locale').notNullable().defaultTo('de-DE');
      t.text('timezone');
      t.jsonb('notifications').notNullable().defaultTo('{}');
      t.jsonb('ui').notNullable().defaultTo('{}');
      t.unique(['company_id', 'user_id']);
    },
    { refs: [{ column: 'user_id', table: 'users', onDelete: 'CASCADE', index: false }] },
  );
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['user_preferences', 'api_tokens', 'user_sessions', 'users']) {
    await knex.schema.dropTable(table);
  }
}
