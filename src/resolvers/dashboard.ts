import { DateTime as Luxon } from 'luxon';
import { Arg, Ctx, Extensions, Field, Float, Int, ObjectType, Query, Resolver } from 'type-graphql';
import { cost, DASHBOARD_COST } from '../graphql/limits/cost-model';
import type { GraphQLContext } from '../graphql/context';
import { companySettings } from '../domain/companies/company-settings';
import { AppError } from '../errors/app-error';
import { DateTime } from './common';

@ObjectType()
export class StatusCount {
  @Field()
  status!: string;

  @Field(() => Int)
  count!: number;
}

@ObjectType({ description: 'Figures for one day in the company time zone.' })
export class Dashboard {
  @Field(() => DateTime)
  from!: Date;

  @Field(() => DateTime)
  to!: Date;

  @Field(() => [StatusCount], { description: 'Appointments starting that day, per status.' })
  appointmentsByStatus!: StatusCount[];

  @Field(() => Int, { description: 'Scheduled or confirmed appointments still to come that day.' })
  upcomingToday!: number;

  @Field(() => Int)
  callsToday!: number;

  @Field(() => Float, { description: 'Share of that day’s calls that led to a booking (0 to 1).' })
  callBookingRate!: number;

  @Field(() => Int, { description: 'Callback requests not yet done or expired.' })
  openCallbackRequests!: number;
}

interface Row {
  by_status: Record<string, number> | null;
  upcoming: string;
  calls: string;
  booked_calls: string;
  open_callbacks: string;
}

@Resolver()
export class DashboardResolver {
  @Query(() => Dashboard, {
    description: 'Daily figures, computed by aggregate SQL. `date` is YYYY-MM-DD (default today).',
  })
  @Extensions(cost(DASHBOARD_COST))
  async dashboard(
    @Arg('date', () => String, { nullable: true }) date: string | null,
    @Ctx() { ctx }: GraphQLContext,
  ): Promise<Dashboard> {
    const company = await companySettings(ctx);
    const zone = company.timezone;
    const day = date ? Luxon.fromISO(date, { zone }) : Luxon.now().setZone(zone);
    if (!day.isValid || (date && !/^\d{4}-\d{2}-\d{2}$/.test(date))) {
      throw new AppError('BAD_USER_INPUT', 'date must be YYYY-MM-DD', { field: 'date' });
    }
    const from = day.startOf('day').toJSDate();
    const to = day.startOf('day').plus({ days: 1 }).toJSDate();
    const now = new Date();
    const trx = await ctx.trx();
    const companyId = ctx.requireCompanyId();
    // One statement; each part is an index range scan on (company_id, ...).
    const { rows } = (await trx.raw(
      `select
        (select json_object_agg(status, n) from (
            select status, count(*)::int as n from appointments
             where company_id = :c and starts_at >= :from and starts_at < :to group by status) s) as by_status,
        (select count(*) from appointments
          where company_id = :c and starts_at >= greatest(:from::timestamptz, :now::timestamptz) and starts_at < :to
            and status in ('scheduled', 'confirmed')) as upcoming,
        (select count(*) from calls where company_id = :c and created_at >= :from and created_at < :to) as calls,
        (select count(*) from calls where company_id = :c and created_at >= :from and created_at < :to
            and outcome = 'booked') as booked_calls,
        (select count(*) from callback_requests
          where company_id = :c and status in ('pending', 'assigned', 'contacted')) as open_callbacks`,
      { c: companyId, from, to, now },
    )) as { rows: Row[] };
    const row = rows[0];
    const calls = Number(row.calls);
    return {
      from,
      to,
      appointmentsByStatus: Object.entries(row.by_status ?? {})
        .map(([status, count]) => ({ status, count: Number(count) }))
        .sort((a, b) => a.status.localeCompare(b.status)),
      upcomingToday: Number(row.upcoming),
      callsToday: calls,
      callBookingRate: calls ? Number(row.booked_calls) / calls : 0,
      openCallbackRequests: Number(row.open_callbacks),
    };
  }
}
