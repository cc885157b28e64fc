import { bookableServices } from '../domain/catalog/catalog.service';
import { findActiveCustomerByPhone } from '../domain/customers/customer.service';
import { e164OrNull } from '../domain/phone';
import { DateTime } from 'luxon';
import type { RequestContext } from '../context/request-context';
import type { VoiceCompany } from './functions';
import {
  spokenDate,
  spokenDateTime,
  spokenList,
  spokenMinutes,
  spokenOpeningHours,
  spokenPrice,
} from './speech';

/**
 * The answer to Retell's inbound-call webhook: everything the agent's prompt needs, as dynamic
 * variables (all strings, as Retell requires), plus metadata kept with the call.
 */
export interface InboundAnswer {
  override_agent_id?: string;
  dynamic_variables: Record<string, string>;
  metadata: Record<string, unknown>;
}

function hhmm(value: string): string {
  return value.slice(0, 5);
}

/** Intervals per ISO weekday in which anyone works (today's rules), merged. */
async function openingHours(
  ctx: RequestContext,
  today: string,
): Promise<Map<number, [string, string][]>> {
  const trx = await ctx.trx();
  const rows = await trx('working_hours as w')
    .join('staff as s', function () {
      this.on('s.company_id', 'w.company_id').andOn('s.id', 'w.staff_id');
    })
    .whereNull('s.archived_at')
    .where((q) => q.whereNull('w.valid_from').orWhere('w.valid_from', '<=', today))
    .where((q) => q.whereNull('w.valid_until').orWhere('w.valid_until', '>=', today))
    .orderBy(['w.weekday', 'w.starts_at'])
    .select<{ weekday: number; starts_at: string; ends_at: string }[]>(
      'w.weekday',
      'w.starts_at',
      'w.ends_at',
    );
  const byDay = new Map<number, [string, string][]>();
  for (const r of rows) {
    const list = byDay.get(r.weekday) ?? [];
    const [a, b] = [hhmm(r.starts_at), hhmm(r.ends_at)];
    const last = list[list.length - 1];
    if (last && a <= last[1]) {
      if (b > last[1]) last[1] = b;
    } else list.push([a, b]);
    byDay.set(r.weekday, list);
  }
  return byDay;
}

/**
 * The company part of the answer (opening hours, services, the number's agent) changes rarely and
 * is the same for every caller, so it is kept per company, day, language and number for a minute.
 */
const STATIC_TTL_MS = 60_000;
const STATIC_MAX = 2000;
interface StaticPart {
  openingHours: string;
  services: string;
  agentId: string | null;
}
const staticCache = new Map<string, { until: number; value: StaticPart }>();

async function staticPart(
  ctx: RequestContext,
  company: VoiceCompany,
  today: string,
  phoneNumberId: string | null,
  nowMs: number,
): Promise<StaticPart> {
  const key = `${company.id}|${today}|${company.language}|${phoneNumberId ?? ''}`;
  const hit = staticCache.get(key);
  if (hit && hit.until > nowMs) return hit.value;
  const value = await loadStaticPart(ctx, company, today, phoneNumberId);
  if (staticCache.size >= STATIC_MAX) staticCache.clear();
  staticCache.set(key, { until: nowMs + STATIC_TTL_MS, value });
  return value;
}

async function loadStaticPart(
  ctx: RequestContext,
  company: VoiceCompany,
  today: string,
  phoneNumberId: string | null,
): Promise<StaticPart> {
  const trx = await ctx.trx();
  const lang = company.language;
  // One after another: the statements share the request's transaction (one connection).
  const hours = await openingHours(ctx, today);
  // What the agent reads out: the first 30 bookable services.
  const services = (await bookableServices(ctx)).slice(0, 30);
  const agentRow = phoneNumberId
    ? await trx('phone_numbers as p')
        .join('retell_agents as a', function () {
          this.on('a.company_id', 'p.company_id').andOn('a.id', 'p.retell_agent_id');
        })
        .where('p.id', phoneNumberId)
        .where('a.active', true)
        .first<{ agent_id: string } | undefined>('a.agent_id')
    : undefined;
  return {
    openingHours: spokenOpeningHours(hours, lang),
    services: spokenList(
      services.map(
        (s) =>
          `${s.name} (${spokenMinutes(s.durationMinutes, lang)}, ${spokenPrice(s.priceCents, s.currency, lang)})`,
      ),
      lang,
      'and',
    ),
    agentId: agentRow?.agent_id ?? null,
  };
}

export async function inboundAnswer(
  ctx: RequestContext,
  company: VoiceCompany,
  input: {
    agentId: string | null;
    fromNumber: string | null;
    phoneNumberId: string | null;
    now: Date;
  },
): Promise<InboundAnswer> {
  const trx = await ctx.trx();
  const lang = company.language;
  const zone = company.timezone;
  const local = DateTime.fromJSDate(input.now, { zone }).setLocale(
    lang === 'de' ? 'de-DE' : 'en-US',
  );
  const today = local.toISODate()!;

  const fixed = await staticPart(ctx, company, today, input.phoneNumberId, input.now.getTime());

  const vars: Record<string, string> = {
    company_name: company.name,
    language: lang,
    time_zone: zone,
    today: today,
    today_spoken: spokenDate(local, zone, lang),
    weekday: local.toFormat('cccc'),
    current_time: local.toFormat('HH:mm'),
    opening_hours: fixed.openingHours,
    services: fixed.services,
    customer_known: 'false',
    customer_first_name: '',
    next_appointment: '',
  };
  const metadata: Record<string, unknown> = { company_id: company.id };

  const caller = e164OrNull(input.fromNumber, company.region);
  if (caller) {
    const customer = await findActiveCustomerByPhone(trx, caller);
    if (customer) {
      vars.customer_known = 'true';
      const first = customer.name.trim().split(/\s+/)[0] ?? '';
      vars.customer_first_name = first.startsWith('+') ? '' : first;
      metadata.customer_id = customer.id;
      const next = await trx('appointments as a')
        .join('services as s', function () {
          this.on('s.company_id', 'a.company_id').andOn('s.id', 'a.service_id');
        })
        .where('a.customer_id', customer.id)
        .whereIn('a.status', ['scheduled', 'confirmed'])
        .where('a.starts_at', '>', input.now)
        .orderBy('a.starts_at')
        .first<{ id: string; starts_at: Date; name: string } | undefined>(
          'a.id',
          'a.starts_at',
          's.name',
        );
      if (next) {
        vars.next_appointment = `${next.name}, ${spokenDateTime(next.starts_at, zone, lang)}`;
        vars.next_appointment_id = next.id;
        vars.next_appointment_start = DateTime.fromJSDate(next.starts_at, { zone }).toISO()!;
      }
    }
  }
  const answer: InboundAnswer = { dynamic_variables: vars, metadata };
  if (fixed.agentId && fixed.agentId !== input.agentId) answer.override_agent_id = fixed.agentId;
  return answer;
}
