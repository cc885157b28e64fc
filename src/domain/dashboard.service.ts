import { DateTime as Luxon } from 'luxon';
import type { RequestContext } from '../context/request-context';
import { badInput } from '../errors/app-error';
import { companySettings } from './companies/company-settings';

/** Figures for one day in the company time zone. */
export interface DailyFigures {
  from: Date;
  to: Date;
  appointmentsByStatus: { status: string; count: number }[];
  upcomingToday: number;
  callsToday: number;
  callBookingRate: number;
  openCallbackRequests: number;
}

interface Row {
  by_status: Record<string, number> | null;
  upcoming: string;
  calls: string;
  booked_calls: string;
  open_callbacks: string;
}

/** The dashboard's figures for `date` (YYYY-MM-DD, default today), computed by one aggregate SQL. */
export async function dailyFigures(
  ctx: RequestContext,
  date: string | null,
): Promise<DailyFigures> {
  const company = await companySettings(ctx);
  const zone = company.timezone;
  const day = date ? Luxon.fromISO(date, { zone }) : Luxon.now().setZone(zone);
  if (!day.isValid || (date && !/^\d{4}-\d{2}-\d{2}$/.test(date))) {
    throw badInput('date', 'date must be YYYY-MM-DD');
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
