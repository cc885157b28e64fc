import type { Knex } from 'knex';
import { createTenantTable } from './lib/v1';

/** Branches, staff, service catalogue, working hours and time off. */
export async function up(knex: Knex): Promise<void> {
  await createTenantTable(knex, 'branches', (t) => {
    t.text('name').notNullable();
    t.text('address');
    t.text('phone_e164');
    t.text('timezone');
    t.timestamp('archived_at', { useTz: true });
    t.unique(['company_id', 'name']);
  });

  await createTenantTable(
    knex,
    'staff',
    (t) => {
      t.text('name').notNullable();
      t.specificType('email', 'citext');
      t.text('phone_e164');
      t.text('color');
      t.timestamp('archived_at', { useTz: true });
      t.unique(['company_id', 'email']);
    },
    { refs: [{ column: 'branch_id', table: 'branches', nullable: true }] },
  );

  await createTenantTable(knex, 'service_categories', (t) => {
    t.text('name').notNullable();
    t.text('description');
    t.integer('sort_order').notNullable().defaultTo(0);
    t.timestamp('archived_at', { useTz: true });
    t.unique(['company_id', 'name']);
  });

  await createTenantTable(
    knex,
    'services',
    (t) => {
      t.text('name').notNullable();
      t.text('description');
      t.integer('duration_minutes').notNullable();
      t.integer('buffer_minutes').notNullable().defaultTo(0);
      t.integer('price_cents').notNullable().defaultTo(0);
      t.string('currency', 3).notNullable().defaultTo('EUR');
      t.timestamp('archived_at', { useTz: true });
      t.unique(['company_id', 'name']);
      t.check('duration_minutes between 5 and 1440', [], 'services_duration_range');
      t.check('buffer_minutes between 0 and 240', [], 'services_buffer_range');
      t.check('price_cents >= 0', [], 'services_price_nonnegative');
    },
    {
      refs: [
        { column: 'category_id', table: 'service_categories', nullable: true },
        { column: 'branch_id', table: 'branches', nullable: true },
      ],
    },
  );

  // Which staff member performs which service.
  await createTenantTable(
    knex,
    'staff_services',
    (t) => {
      t.unique(['company_id', 'staff_id', 'service_id']);
    },
    {
      refs: [
        { column: 'staff_id', table: 'staff', onDelete: 'CASCADE', index: false },
        { column: 'service_id', table: 'services', onDelete: 'CASCADE' },
      ],
    },
  );

  // Weekly working hours in the branch's time zone; several rows a day leave breaks between them.
  await createTenantTable(
    knex,
    'working_hours',
    (t) => {
      t.smallint('weekday').notNullable();
      t.time('starts_at').notNullable();
      t.time('ends_at').notNullable();
      t.date('valid_from');
      t.date('valid_until');
      t.check('weekday between 1 and 7', [], 'working_hours_weekday_iso');
      t.check('ends_at > starts_at', [], 'working_hours_order');
      t.index(['company_id', 'staff_id', 'weekday'], 'working_hours_staff_weekday_idx');
    },
    {
      refs: [
        { column: 'staff_id', table: 'staff', onDelete: 'CASCADE', index: false },
        { column: 'branch_id', table: 'branches', nullable: true },
      ],
    },
  );

  // Exceptions to working hours: holidays, sick days, blocked time.
  await createTenantTable(
    knex,
    'time_off',
    (t) => {
      t.timestamp('starts_at', { useTz: true }).notNullable();
      t.timestamp('ends_at', { useTz: true }).notNullable();
      t.text('reason');
      t.check('ends_at > starts_at', [], 'time_off_order');
      t.index(['company_id', 'staff_id', 'starts_at'], 'time_off_staff_starts_idx');
    },
    { refs: [{ column: 'staff_id', table: 'staff', onDelete: 'CASCADE', index: false }] },
  );
}

export async function down(knex: Knex): Promise<void> {
  for (const table of [
    'time_off',
    'working_hours',
    'staff_services',
    'services',
    'service_categories',
    'staff',
    'branches',
  ]) {
    await knex.schema.dropTable(table);
  }
}
