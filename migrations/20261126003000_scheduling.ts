import type { Knex } from 'knex';

/**
 * Buffers become part of the double-booking guarantee. A service's buffer (clean-up, travel) keeps
 * its staff member busy after the appointment ends, so the exclusion constraint compares the time
 * each appointment occupies, `[starts_at, ends_at + buffer_minutes)`, instead of `[starts_at,
 * ends_at)`. Two bookings that race for neighbouring times can then no longer both commit with one
 * of them inside the other's buffer: the loser gets SQLSTATE 23P01 like any other overlap.
 *
 * buffer_minutes is a copy of the service's buffer at booking time, so changing a service later
 * never turns existing appointments into conflicts. Writers that do not set it (imports, calendar
 * synchronisation) get the service's current buffer from a trigger; a writer that records a fact
 * from elsewhere sets 0 explicitly.
 */
export async function up(knex: Knex): Promise<void> {
  // timestamptz + interval is only STABLE in general (day and month steps depend on the time zone);
  // whole minutes are absolute time, so this one is IMMUTABLE and can be used in an index.
  await knex.raw(`
    create function app_plus_minutes(ts timestamptz, minutes integer) returns timestamptz
    language sql immutable parallel safe as $$ select ts + make_interval(mins => minutes) $$`);

  await knex.raw('alter table appointments add column buffer_minutes integer not null default 0');
  await knex.raw('alter table appointments alter column buffer_minutes drop default');
  await knex.raw(
    'alter table appointments add constraint appointments_buffer_range check (buffer_minutes between 0 and 240)',
  );

  // Runs as the writer, so row level security limits the lookup to the writer's own company.
  await knex.raw(`
    create function app_appointment_default_buffer() returns trigger
    language plpgsql as $$
    begin
      if new.buffer_minutes is null then
        select s.buffer_minutes into new.buffer_minutes
          from services s
         where s.company_id = new.company_id and s.id = new.service_id;
        new.buffer_minutes := coalesce(new.buffer_minutes, 0);
      end if;
      return new;
    end
    $$`);
  await knex.raw(`
    create trigger appointments_default_buffer before insert on appointments
    for each row execute function app_appointment_default_buffer()`);

  await knex.raw('alter table appointments drop constraint appointments_no_double_booking');
  await knex.raw(`
    alter table appointments add constraint appointments_no_double_booking
    exclude using gist (
      company_id with =,
      staff_id with =,
      tstzrange(starts_at, app_plus_minutes(ends_at, buffer_minutes), '[)') with &&
    )
    where (status <> 'cancelled' and staff_id is not null)`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('alter table appointments drop constraint appointments_no_double_booking');
  await knex.raw(`
    alter table appointments add constraint appointments_no_double_booking
    exclude using gist (company_id with =, staff_id with =, tstzrange(starts_at, ends_at, '[)') with &&)
    where (status <> 'cancelled' and staff_id is not null)`);
  await knex.raw('drop trigger appointments_default_buffer on appointments');
  await knex.raw('drop function app_appointment_default_buffer()');
  await knex.raw('alter table appointments drop constraint appointments_buffer_range');
  await knex.raw('alter table appointments drop column buffer_minutes');
  await knex.raw('drop function app_plus_minutes(timestamptz, integer)');
}
