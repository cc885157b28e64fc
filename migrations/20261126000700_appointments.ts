import type { Knex } from 'knex';
import {
  APPOINTMENT_SOURCES,
  APPOINTMENT_STATUSES,
  addTenantForeignKey,
  createTenantTable,
} from './lib/v1';

/**
 * Appointments. The exclusion constraint makes double booking a staff member impossible, even when
 * requests race: overlapping time ranges for the same company and staff member are refused unless
 * the appointment is cancelled.
 */
export async function up(knex: Knex): Promise<void> {
  await createTenantTable(
    knex,
    'appointments',
    (t) => {
      t.timestamp('starts_at', { useTz: true }).notNullable();
      t.timestamp('ends_at', { useTz: true }).notNullable();
      t.text('status').notNullable().defaultTo('scheduled');
      t.text('source').notNullable().defaultTo('manual');
      t.text('calcom_booking_uid');
      t.text('notes');
      t.integer('price_cents');
      t.integer('reschedule_count').notNullable().defaultTo(0);
      t.uuid('rescheduled_from_id');
      t.timestamp('confirmed_at', { useTz: true });
      t.timestamp('cancelled_at', { useTz: true });
      t.text('cancelled_by');
      t.text('cancellation_reason');
      t.unique(['company_id', 'calcom_booking_uid']);
      t.check('ends_at > starts_at', [], 'appointments_order');
      t.check(
        `status in (${APPOINTMENT_STATUSES.map((s) => `'${s}'`).join(',')})`,
        [],
        'appointments_status',
      );
      t.check(
        `source in (${APPOINTMENT_SOURCES.map((s) => `'${s}'`).join(',')})`,
        [],
        'appointments_source',
      );
      t.index(['company_id', 'starts_at'], 'appointments_company_starts_idx');
      t.index(['company_id', 'staff_id', 'starts_at'], 'appointments_staff_starts_idx');
      t.index(['company_id', 'customer_id', 'starts_at'], 'appointments_customer_starts_idx');
      t.index(['company_id', 'branch_id', 'starts_at'], 'appointments_branch_starts_idx');
      t.index(['company_id', 'status', 'starts_at'], 'appointments_status_starts_idx');
    },
    {
      refs: [
        { column: 'customer_id', table: 'customers', index: false },
        { column: 'service_id', table: 'services' },
        { column: 'staff_id', table: 'staff', nullable: true, index: false },
        { column: 'branch_id', table: 'branches', nullable: true, index: false },
        { column: 'call_id', table: 'calls', nullable: true },
        { column: 'created_by_user_id', table: 'users', nullable: true },
      ],
    },
  );
  await addTenantForeignKey(knex, 'appointments', {
    column: 'rescheduled_from_id',
    table: 'appointments',
    nullable: true,
  });
  await knex.raw(`
    alter table appointments add constraint appointments_no_double_booking
    exclude using gist (company_id with =, staff_id with =, tstzrange(starts_at, ends_at, '[)') with &&)
    where (status <> 'cancelled' and staff_id is not null)`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('appointments');
}
