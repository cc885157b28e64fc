import type { Knex } from 'knex';
import { createTenantTable } from './lib/v1';

/** Retell voice agents, the phone numbers they answer, and the calls. */
export async function up(knex: Knex): Promise<void> {
  await createTenantTable(
    knex,
    'retell_agents',
    (t) => {
      t.text('agent_id').notNullable();
      t.text('name').notNullable();
      t.boolean('active').notNullable().defaultTo(true);
      t.unique(['company_id', 'agent_id']);
    },
    { refs: [{ column: 'branch_id', table: 'branches', nullable: true }] },
  );
  // Routing looks an agent up by Retell's id across companies (through a platform function).
  await knex.raw('create index retell_agents_agent_id_idx on retell_agents (agent_id)');

  await createTenantTable(
    knex,
    'phone_numbers',
    (t) => {
      t.text('number_e164').notNullable();
      t.text('label');
      t.boolean('active').notNullable().defaultTo(true);
      t.unique(['company_id', 'number_e164']);
      t.check(`number_e164 ~ '^\\+[1-9][0-9]{6,14}$'`, [], 'phone_numbers_e164');
    },
    {
      refs: [
        { column: 'branch_id', table: 'branches', nullable: true },
        { column: 'retell_agent_id', table: 'retell_agents', nullable: true },
      ],
    },
  );
  await knex.raw('create index phone_numbers_number_idx on phone_numbers (number_e164)');

  await createTenantTable(
    knex,
    'calls',
    (t) => {
      t.text('retell_call_id').notNullable();
      t.text('direction').notNullable().defaultTo('inbound');
      t.text('status').notNullable().defaultTo('registered');
      t.text('from_number');
      t.text('to_number');
      t.timestamp('started_at', { useTz: true });
      t.timestamp('ended_at', { useTz: true });
      t.integer('duration_ms');
      t.text('transcript');
      t.text('summary');
      t.text('sentiment');
      t.boolean('call_successful');
      t.text('disconnection_reason');
      t.text('recording_url');
      t.integer('cost_cents');
      t.text('outcome');
      t.jsonb('metadata').notNullable().defaultTo('{}');
      t.unique(['company_id', 'retell_call_id']);
      t.check(`direction in ('inbound','outbound')`, [], 'calls_direction');
      t.check(
        `status in ('registered','not_connected','ongoing','ended','error')`,
        [],
        'calls_status',
      );
      t.check(`sentiment in ('negative','positive','neutral','unknown')`, [], 'calls_sentiment');
      t.check(
        `outcome in ('booked','rescheduled','cancelled','callback_requested','information','no_action')`,
        [],
        'calls_outcome',
      );
      t.index(['company_id', 'created_at'], 'calls_company_created_idx');
    },
    {
      refs: [
        { column: 'phone_number_id', table: 'phone_numbers', nullable: true },
        { column: 'retell_agent_id', table: 'retell_agents', nullable: true },
        { column: 'customer_id', table: 'customers', nullable: true },
      ],
    },
  );
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['calls', 'phone_numbers', 'retell_agents']) {
    await knex.schema.dropTable(table);
  }
}
