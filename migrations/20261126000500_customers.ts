import type { Knex } from 'knex';
import { createTenantTable } from './lib/v1';

/** Customers (E.164 phone and email each unique within a company) and notes about them. */
export async function up(knex: Knex): Promise<void> {
  await createTenantTable(knex, 'customers', (t) => {
    t.text('name').notNullable();
    t.text('phone_e164');
    t.specificType('email', 'citext');
    t.text('preferred_language');
    t.timestamp('archived_at', { useTz: true });
    t.unique(['company_id', 'phone_e164']);
    t.unique(['company_id', 'email']);
    t.check(`phone_e164 ~ '^\\+[1-9][0-9]{6,14}$'`, [], 'customers_phone_e164');
  });
  // Name search: prefix match on the lower-cased name within a company.
  await knex.raw(
    'create index customers_name_search_idx on customers (company_id, lower(name) text_pattern_ops)',
  );

  await createTenantTable(
    knex,
    'customer_notes',
    (t) => {
      t.text('body').notNullable();
      t.check('length(body) between 1 and 10000', [], 'customer_notes_body_length');
      t.index(['company_id', 'customer_id', 'created_at'], 'customer_notes_customer_created_idx');
    },
    {
      refs: [
        { column: 'customer_id', table: 'customers', onDelete: 'CASCADE', index: false },
        { column: 'author_user_id', table: 'users', nullable: true },
      ],
    },
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('customer_notes');
  await knex.schema.dropTable('customers');
}
