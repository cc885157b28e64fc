import type { Knex } from 'knex';
import { createTenantTable } from './lib/v1';

/** Booking, cancellation and rescheduling policies; callback requests for callers not booked. */
export async function up(knex: Knex): Promise<void> {
  await createTenantTable(
    knex,
    'policy_configurations',
    (t) => {
      t.text('policy_type').notNullable();
      t.jsonb('config').notNullable();
      t.boolean('active').notNullable().defaultTo(true);
      t.check(
        `policy_type in ('booking','cancellation','rescheduling')`,
        [],
        'policy_configurations_type',
      );
      t.check(`jsonb_typeof(config) = 'object'`, [], 'policy_configurations_config_object');
    },
    {
      refs: [
        { column: 'branch_id', table: 'branches', nullable: true, onDelete: 'CASCADE' },
        { column: 'service_id', table: 'services', nullable: true, onDelete: 'CASCADE' },
      ],
    },
  );
  // One policy of a type per scope (company, branch, service); NULLs count as equal here.
  await knex.raw(`
    alter table policy_configurations add constraint policy_configurations_scope_unique
    unique nulls not distinct (company_id, policy_type, branch_id, service_id)`);

  await createTenantTable(
    knex,
    'callback_requests',
    (t) => {
      t.text('phone_e164').notNullable();
      t.text('name');
      t.text('reason');
      t.jsonb('preferred_times').notNullable().defaultTo('[]');
      t.text('priority').notNullable().defaultTo('normal');
      t.text('status').notNullable().defaultTo('pending');
      t.timestamp('due_at', { useTz: true })
        .notNullable()
        .defaultTo(knex.raw("now() + interval '1 day'"));
      t.timestamp('contacted_at', { useTz: true });
      t.timestamp('completed_at', { useTz: true });
      t.text('resolution');
      t.check(`phone_e164 ~ '^\\+[1-9][0-9]{6,14}$'`, [], 'callback_requests_phone_e164');
      t.check(`priority in ('low','normal','high','urgent')`, [], 'callback_requests_priority');
      t.check(
        `status in ('pending','assigned','contacted','done','expired')`,
        [],
        'callback_requests_status',
      );
      t.index(['company_id', 'status', 'due_at'], 'callback_requests_status_due_idx');
    },
    {
      refs: [
        { column: 'customer_id', table: 'customers', nullable: true },
        { column: 'call_id', table: 'calls', nullable: true },
        { column: 'assigned_staff_id', table: 'staff', nullable: true },
      ],
    },
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('callback_requests');
  await knex.schema.dropTable('policy_configurations');
}
