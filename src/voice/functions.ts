import { DateTime } from 'luxon';
import type { RequestContext } from '../context/request-context';
import { AppError } from '../errors/app-error';
import type { Customer } from '../models';
import { findCustomerByPhone } from '../domain/customers/customer.service';
import { bookableServices, type BookableService } from '../domain/catalog/catalog.service';
import { isUuid } from '../domain/ids';
import { e164OrNull } from '../domain/phone';
import {
  bookAppointment,
  cancelAppointment,
  createCallbackRequest,
  findAppointment,
  findAvailableSlots,
  MAX_SLOT_LIMIT,
  rescheduleAppointment,
  type AvailableSlot,
} from '../scheduling';
import {
  spokenDate,
  spokenDateTime,
  spokenList,
  spokenMinutes,
  spokenPrice,
  type Language,
} from './speech';

/**
 * The functions the voice agent calls during a call. Each answers with a short `message` the agent
 * reads out in the company's language, plus structured fields (ids, ISO times) for its next call.
 * Bad or impossible arguments get a speakable explanation and, where there are any, the nearest
 * alternatives: never an exception.
 */

export interface VoiceCompany {
  id: string;
  name: string;
  timezone: string;
  region: string;
  currency: string;
  language: Language;
}

export interface VoiceCall {
  /** Our Call row. */
  id: string;
  retellCallId: string;
  /** The customer's number as Retell sent it: the caller (inbound) or the number called (outbound). */
  fromNumber: string | null;
}

export interface FunctionInput {
  ctx: RequestContext;
  company: VoiceCompany;
  call: VoiceCall;
  args: Record<string, unknown>;
  now: Date;
}

export type Outcome = 'ok' | 'refused' | 'invalid';

export interface VoiceAnswer {
  ok: boolean;
  outcome: Outcome;
  message: string;
  [key: string]: unknown;
}

export interface VoiceFunction {
  name: string;
  description: string;
  parameters: Record<string, unknown>;
  /** Changes data: retries with the same arguments get the stored answer. */
  changes: boolean;
  run(input: FunctionInput): Promise<VoiceAnswer>;
}

/** At most this many suggestions are spoken. */
export const MAX_SUGGESTIONS = 3;
/**
 * The agent offers start times, not staff members: one slot per time, and every time of the (at
 * most two-week) range, so the suggestions can spread over days and `totalFree` counts them all.
 */
const VOICE_SLOTS = { first: MAX_SLOT_LIMIT, distinctTimes: true } as const;

const say = (lang: Language, de: string, en: string) => (lang === 'de' ? de : en);

function answer(outcome: Outcome, message: string, fields: Record<string, unknown> = {}) {
  return { ok: outcome === 'ok', outcome, message, ...fields } as VoiceAnswer;
}

function text(value: unknown, max = 200): string | null {
  if (typeof value === 'number') value = String(value);
  if (typeof value !== 'string') return null;
  const t = value.trim();
  return t === '' ? null : t.slice(0, max);
}

/** First of several argument names that is present (the agent's LLM is not always consistent). */
function arg(args: Record<string, unknown>, ...names: string[]): unknown {
  for (const n of names)
    if (args[n] !== undefined && args[n] !== null && args[n] !== '') return args[n];
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Lookups

type ServiceRow = BookableService;

function fold(s: string): string {
  return s
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/ß/g, 'ss')
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();
}

type Found<T> = { ok: true; value: T } | { ok: false; answer: VoiceAnswer };

async function resolveService(input: FunctionInput): Promise<Found<ServiceRow>> {
  const lang = input.company.language;
  const services = await bookableServices(input.ctx);
  const names = services.slice(0, MAX_SUGGESTIONS).map((s) => s.name);
  const wanted = text(arg(input.args, 'service', 'service_id', 'serviceId', 'service_name'));
  if (!wanted) {
    return {
      ok: false,
      answer: answer(
        'invalid',
        say(
          lang,
          `Für welche Leistung? Zum Beispiel ${spokenList(names, lang)}.`,
          `Which service would you like? For example ${spokenList(names, lang)}.`,
        ),
        { field: 'service', alternatives: services.slice(0, MAX_SUGGESTIONS) },
      ),
    };
  }
  const key = fold(wanted);
  const found =
    services.find((s) => s.id === wanted) ??
    services.find((s) => fold(s.name) === key) ??
    services.find((s) => fold(s.name).includes(key) || key.includes(fold(s.name)));
  if (found) return { ok: true, value: found };
  const words = key.split(' ').filter((w) => w.length > 2);
  const near = services
    .map((s) => ({ s, score: words.filter((w) => fold(s.name).includes(w)).length }))
    .sort((a, b) => b.score - a.score)
    .slice(0, MAX_SUGGESTIONS)
    .map((x) => x.s);
  return {
    ok: false,
    answer: answer(
      'invalid',
      say(
        lang,
        `Die Leistung „${wanted}“ bieten wir leider nicht an. Möglich sind zum Beispiel ${spokenList(
          near.map((s) => s.name),
          lang,
        )}.`,
        `Sorry, we don't offer "${wanted}". We do offer, for example, ${spokenList(
          near.map((s) => s.name),
          lang,
        )}.`,
      ),
      { field: 'service', alternatives: near },
    ),
  };
}

async function resolveStaff(
  input: FunctionInput,
  serviceId: string,
): Promise<Found<{ id: string; name: string } | null>> {
  const wanted = text(arg(input.args, 'staff', 'staff_id', 'staffId', 'staff_name'));
  if (!wanted) return { ok: true, value: null };
  const lang = input.company.language;
  const trx = await input.ctx.trx();
  const staff = await trx('staff as st')
    .join('staff_services as ss', function () {
      this.on('ss.company_id', 'st.company_id').andOn('ss.staff_id', 'st.id');
    })
    .where('ss.service_id', serviceId)
    .whereNull('st.archived_at')
    .orderBy('st.name')
    .select<{ id: string; name: string }[]>('st.id', 'st.name');
  const key = fold(wanted);
  const found =
    staff.find((s) => s.id === wanted) ??
    staff.find((s) => fold(s.name) === key) ??
    staff.find((s) => fold(s.name).split(' ').includes(key));
  if (found) return { ok: true, value: found };
  const names = staff.slice(0, MAX_SUGGESTIONS).map((s) => s.name);
  return {
    ok: false,
    answer: answer(
      'invalid',
      say(
        lang,
        `${wanted} bietet diese Leistung bei uns nicht an.${names.length ? ` Möglich wären ${spokenList(names, lang)}.` : ''}`,
        `${wanted} doesn't offer this service here.${names.length ? ` You could choose ${spokenList(names, lang)}.` : ''}`,
      ),
      { field: 'staff', alternatives: staff.slice(0, MAX_SUGGESTIONS) },
    ),
  };
}

/** The caller's customer record, found by the calling number. */
async function callerCustomer(input: FunctionInput): Promise<Customer | null> {
  const phone = callerE164(input);
  if (!phone) return null;
  return findCustomerByPhone(await input.ctx.trx(), phone);
}

function callerE164(input: FunctionInput): string | null {
  const raw = input.call.fromNumber;
  if (!raw) return null;
  // Same rules as the booking service: national numbers read with the company's region.
  return e164OrNull(raw, input.company.region);
}

function invalidPhone(lang: Language): VoiceAnswer {
  return answer(
    'invalid',
    say(
      lang,
      'Ich kann Ihre Telefonnummer leider nicht erkennen. Ich notiere gern einen Rückruf, oder Sie rufen uns von einer anderen Nummer an.',
      "I can't recognise your phone number, so I can't do that on this call. I can note a callback request instead.",
    ),
    { field: 'from_number' },
  );
}

// ---------------------------------------------------------------------------------------------
// Times

type TimeOfDay = { kind: 'part'; from: number; to: number } | { kind: 'at'; minutes: number };

function timeOfDay(value: unknown): TimeOfDay | null | 'bad' {
  const t = text(value);
  if (!t) return null;
  const k = fold(t);
  if (/^(morning|vormittag|vormittags|morgens|fruh|frueh)$/.test(k))
    return { kind: 'part', from: 0, to: 12 * 60 };
  if (/^(afternoon|nachmittag|nachmittags|mittag|mittags)$/.test(k))
    return { kind: 'part', from: 12 * 60, to: 17 * 60 };
  if (/^(evening|abend|abends)$/.test(k)) return { kind: 'part', from: 17 * 60, to: 24 * 60 };
  const m = /^(\d{1,2})(?::(\d{2}))?$/.exec(t.replace(/\s*(uhr|h)$/i, ''));
  if (m && Number(m[1]) < 24 && Number(m[2] ?? 0) < 60) {
    return { kind: 'at', minutes: Number(m[1]) * 60 + Number(m[2] ?? 0) };
  }
  return 'bad';
}

/** A local date 'YYYY-MM-DD' (or a date-time, of which the date counts), or the words today/tomorrow. */
function localDate(value: unknown, zone: string, now: Date): DateTime | null | 'bad' {
  const t = text(value);
  if (!t) return null;
  const today = DateTime.fromJSDate(now, { zone }).startOf('day');
  const k = fold(t);
  if (k === 'today' || k === 'heute') return today;
  if (k === 'tomorrow' || k === 'morgen') return today.plus({ days: 1 });
  if (k === 'ubermorgen' || k === 'uebermorgen' || k === 'day after tomorrow')
    return today.plus({ days: 2 });
  const dt = DateTime.fromISO(t, { zone, setZone: false });
  if (!dt.isValid) return 'bad';
  return dt.setZone(zone).startOf('day');
}

/** A start time: ISO with offset, or local 'YYYY-MM-DDTHH:MM' in the company's zone. */
function startTime(args: Record<string, unknown>, zone: string): Date | null | 'bad' {
  const raw = text(
    arg(args, 'start', 'starts_at', 'startsAt', 'start_time', 'new_start', 'datetime'),
  );
  const date = text(arg(args, 'date'));
  const time = text(arg(args, 'time'));
  let t = raw;
  if (!t && date && time) t = `${date}T${time.replace(/\s*uhr$/i, '').padStart(5, '0')}`;
  if (!t) return null;
  const dt = DateTime.fromISO(t.replace(' ', 'T'), { zone });
  if (!dt.isValid) return 'bad';
  return dt.toJSDate();
}

function badTime(lang: Language, field: string): VoiceAnswer {
  return answer(
    'invalid',
    say(
      lang,
      'Diesen Zeitpunkt habe ich nicht verstanden. Nennen Sie mir bitte Datum und Uhrzeit.',
      "I didn't catch that time. Please tell me the date and the time.",
    ),
    { field },
  );
}

interface Suggestion {
  startsAt: string;
  endsAt: string;
  staffId: string;
  staffName: string;
  spoken: string;
}

function minutesOfDay(at: Date, zone: string): number {
  const dt = DateTime.fromJSDate(at, { zone });
  return dt.hour * 60 + dt.minute;
}

/**
 * Up to three distinct start times: nearest to `near` when given, else the first of each day
 * (so the caller hears a spread), filtered by a part of the day.
 */
function pickSlots(
  slots: AvailableSlot[],
  zone: string,
  lang: Language,
  opts: { near?: Date; part?: TimeOfDay | null } = {},
): Suggestion[] {
  const byStart = new Map<number, AvailableSlot>();
  for (const s of slots) {
    const part = opts.part;
    const mins = minutesOfDay(s.start, zone);
    if (part?.kind === 'part' && (mins < part.from || mins >= part.to)) continue;
    if (!byStart.has(s.start.getTime())) byStart.set(s.start.getTime(), s);
  }
  let chosen = [...byStart.values()];
  const part = opts.part;
  if (opts.near) {
    const near = opts.near.getTime();
    chosen.sort((a, b) => Math.abs(a.start.getTime() - near) - Math.abs(b.start.getTime() - near));
    chosen = chosen.slice(0, MAX_SUGGESTIONS).sort((a, b) => a.start.getTime() - b.start.getTime());
  } else if (part?.kind === 'at') {
    chosen.sort(
      (a, b) =>
        Math.abs(minutesOfDay(a.start, zone) - part.minutes) -
          Math.abs(minutesOfDay(b.start, zone) - part.minutes) ||
        a.start.getTime() - b.start.getTime(),
    );
    chosen = chosen.slice(0, MAX_SUGGESTIONS).sort((a, b) => a.start.getTime() - b.start.getTime());
  } else {
    chosen.sort((a, b) => a.start.getTime() - b.start.getTime());
    const days = new Set<string>();
    const first: AvailableSlot[] = [];
    for (const s of chosen) {
      const day = DateTime.fromJSDate(s.start, { zone }).toISODate()!;
      if (days.has(day)) continue;
      days.add(day);
      first.push(s);
      if (first.length === MAX_SUGGESTIONS) break;
    }
    for (const s of chosen) {
      if (first.length >= MAX_SUGGESTIONS) break;
      if (!first.includes(s)) first.push(s);
    }
    chosen = first.sort((a, b) => a.start.getTime() - b.start.getTime());
  }
  return chosen.map((s) => ({
    startsAt: s.startsAt,
    endsAt: s.endsAt,
    staffId: s.staffId,
    staffName: s.staffName,
    spoken: spokenDateTime(s.start, zone, lang),
  }));
}

/** Free times near `at` (that day and the following week), for an impossible request. */
async function alternativesNear(
  input: FunctionInput,
  serviceId: string,
  staffId: string | null,
  at: Date,
): Promise<Suggestion[]> {
  const { ctx, company, now } = input;
  const base = new Date(Math.max(at.getTime(), now.getTime()));
  const from = DateTime.fromJSDate(base, { zone: company.timezone }).startOf('day');
  try {
    const found = await findAvailableSlots(ctx, {
      serviceId,
      staffId,
      from: from.toJSDate(),
      to: from.plus({ days: 8 }).toJSDate(),
      ...VOICE_SLOTS,
      now,
    });
    return pickSlots(found.slots, company.timezone, company.language, { near: base });
  } catch {
    return [];
  }
}

function suggestionText(list: Suggestion[], lang: Language): string {
  if (list.length === 0) {
    return say(
      lang,
      'In den nächsten Tagen ist leider nichts frei.',
      'There is nothing free in the next few days.',
    );
  }
  return say(
    lang,
    `Frei wäre ${spokenList(
      list.map((s) => s.spoken),
      lang,
    )}.`,
    `I could offer ${spokenList(
      list.map((s) => s.spoken),
      lang,
    )}.`,
  );
}

/** A domain error as a sentence the agent can say, with alternatives where they help. */
async function explain(
  input: FunctionInput,
  err: unknown,
  context: { serviceId?: string; staffId?: string | null; at?: Date | null },
): Promise<VoiceAnswer> {
  if (!(err instanceof AppError) || err.code === 'INTERNAL') throw err;
  const lang = input.company.language;
  const rule = typeof err.details?.rule === 'string' ? err.details.rule : null;
  const reason = typeof err.details?.reason === 'string' ? err.details.reason : null;
  const rawLimit = err.details?.limit;
  const limit =
    typeof rawLimit === 'number' || typeof rawLimit === 'string' ? String(rawLimit) : '';
  let message: string;
  let outcome: Outcome = 'refused';
  let withAlternatives = false;
  if (reason === 'SLOT_TAKEN') {
    message = say(
      lang,
      'Dieser Termin ist leider gerade vergeben worden.',
      'Sorry, that time has just been taken.',
    );
    withAlternatives = true;
  } else if (rule === 'availability.workingHours' || rule === 'availability.timeOff') {
    message = say(
      lang,
      'Zu dieser Zeit haben wir leider nicht geöffnet oder niemand ist frei.',
      "Sorry, we're closed or no one is available at that time.",
    );
    withAlternatives = true;
  } else if (rule === 'booking.minNoticeHours') {
    message = say(
      lang,
      `Termine brauchen mindestens ${limit} Stunden Vorlauf.`,
      `Appointments need at least ${limit} hours' notice.`,
    );
    withAlternatives = true;
  } else if (rule === 'booking.horizonDays') {
    message = say(
      lang,
      `Wir vergeben Termine höchstens ${limit} Tage im Voraus.`,
      `We book at most ${limit} days ahead.`,
    );
  } else if (rule === 'booking.maxPerCustomerPerDay' || rule === 'booking.maxActivePerCustomer') {
    message = say(
      lang,
      'Sie haben an diesem Tag oder insgesamt schon die höchste Zahl an Terminen.',
      'You already have the maximum number of appointments.',
    );
  } else if (rule === 'cancellation.minNoticeHours') {
    message = say(
      lang,
      `Termine können nur bis ${limit} Stunden vorher abgesagt werden. Bitte sprechen Sie mit dem Team; ich notiere gern einen Rückruf.`,
      `Appointments can only be cancelled up to ${limit} hours before. I can ask the team to call you back.`,
    );
  } else if (rule === 'rescheduling.minNoticeHours') {
    message = say(
      lang,
      `Termine können nur bis ${limit} Stunden vorher verschoben werden.`,
      `Appointments can only be moved up to ${limit} hours before.`,
    );
  } else if (rule === 'rescheduling.maxReschedules') {
    message = say(
      lang,
      'Dieser Termin wurde schon zu oft verschoben.',
      'This appointment has already been moved too often.',
    );
  } else if (reason === 'INVALID_TRANSITION') {
    message = say(
      lang,
      'Dieser Termin kann nicht mehr geändert werden.',
      'This appointment can no longer be changed.',
    );
  } else if (err.field === 'startsAt' && /past/i.test(err.message)) {
    message = say(
      lang,
      'Dieser Zeitpunkt liegt in der Vergangenheit.',
      'That time is in the past.',
    );
    outcome = 'invalid';
    withAlternatives = true;
  } else if (err.field && /phone/i.test(err.field)) {
    return invalidPhone(lang);
  } else if (err.code === 'NOT_FOUND') {
    message = say(lang, 'Das habe ich leider nicht gefunden.', "Sorry, I couldn't find that.");
    outcome = 'invalid';
  } else {
    message = say(lang, 'Das ist so leider nicht möglich.', "Sorry, that isn't possible.");
    outcome = err.code === 'BAD_USER_INPUT' ? 'invalid' : 'refused';
  }
  const fields: Record<string, unknown> = {
    error: { code: err.code, field: err.field ?? null, rule, reason },
  };
  if (withAlternatives && context.serviceId) {
    const alternatives = await alternativesNear(
      input,
      context.serviceId,
      context.staffId ?? null,
      context.at ?? input.now,
    );
    message = `${message} ${suggestionText(alternatives, lang)}`;
    fields.alternatives = alternatives;
  }
  return answer(outcome, message, fields);
}

/** Runs `fn` in a savepoint, so a refused change leaves the transaction usable for the answer. */
/** A read whose refusal (an AppError from checking the input) is answered, not thrown. */
async function tryRead<T>(
  fn: () => Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; err: AppError }> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    if (err instanceof AppError && err.code !== 'INTERNAL') return { ok: false, err };
    throw err;
  }
}

async function attempt<T>(
  ctx: RequestContext,
  fn: () => Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; err: unknown }> {
  try {
    return { ok: true, value: await ctx.unitOfWork(() => fn()) };
  } catch (err) {
    return { ok: false, err };
  }
}

async function setOutcome(input: FunctionInput, outcome: string): Promise<void> {
  const trx = await input.ctx.trx();
  await trx('calls').where('id', input.call.id).update({ outcome });
}

// ---------------------------------------------------------------------------------------------
// The functions

const listServices: VoiceFunction = {
  name: 'list_services',
  description: 'Lists the services that can be booked, with their duration and price.',
  parameters: { type: 'object', properties: {}, required: [] },
  changes: false,
  async run(input) {
    const { company } = input;
    const lang = company.language;
    const services = await bookableServices(input.ctx);
    const spoken = services.map(
      (s) =>
        `${s.name} (${spokenMinutes(s.durationMinutes, lang)}, ${spokenPrice(s.priceCents, s.currency, lang)})`,
    );
    const message =
      services.length === 0
        ? say(
            lang,
            'Derzeit können keine Leistungen gebucht werden.',
            'No services can be booked at the moment.',
          )
        : say(
            lang,
            `Wir bieten ${spokenList(spoken, lang, 'and')} an.`,
            `We offer ${spokenList(spoken, lang, 'and')}.`,
          );
    return answer('ok', message, {
      services: services.map((s) => ({
        id: s.id,
        name: s.name,
        durationMinutes: s.durationMinutes,
        priceCents: s.priceCents,
        currency: s.currency,
      })),
    });
  },
};

const checkAvailability: VoiceFunction = {
  name: 'check_availability',
  description:
    'Finds free start times for a service, optionally with a staff member, on a date or in a date range and at a time of day. Suggests at most three.',
  parameters: {
    type: 'object',
    properties: {
      service: { type: 'string', description: 'Service name (or id) as the caller said it.' },
      staff: { type: 'string', description: 'Optional staff member name (or id).' },
      date: { type: 'string', description: 'A day, YYYY-MM-DD (or "today", "tomorrow").' },
      from_date: { type: 'string', description: 'Start of a range, YYYY-MM-DD.' },
      to_date: {
        type: 'string',
        description: 'End of a range (inclusive), YYYY-MM-DD; at most 14 days.',
      },
      time_of_day: { type: 'string', description: 'morning, afternoon, evening, or a time HH:MM.' },
    },
    required: ['service'],
  },
  changes: false,
  async run(input) {
    const { company, now, args } = input;
    const lang = company.language;
    const zone = company.timezone;
    const service = await resolveService(input);
    if (!service.ok) return service.answer;
    const staff = await resolveStaff(input, service.value.id);
    if (!staff.ok) return staff.answer;
    const part = timeOfDay(arg(args, 'time_of_day', 'timeOfDay', 'time'));
    if (part === 'bad') {
      return answer(
        'invalid',
        say(
          lang,
          'Welche Tageszeit passt Ihnen: vormittags, nachmittags oder abends?',
          'Which time of day suits you: morning, afternoon or evening?',
        ),
        { field: 'time_of_day' },
      );
    }
    const today = DateTime.fromJSDate(now, { zone }).startOf('day');
    const day = localDate(arg(args, 'date', 'day'), zone, now);
    const fromArg = localDate(arg(args, 'from_date', 'fromDate', 'from'), zone, now);
    const toArg = localDate(arg(args, 'to_date', 'toDate', 'to'), zone, now);
    if (day === 'bad' || fromArg === 'bad' || toArg === 'bad') {
      return answer(
        'invalid',
        say(
          lang,
          'Dieses Datum habe ich nicht verstanden. Welcher Tag passt Ihnen?',
          "I didn't catch that date. Which day suits you?",
        ),
        { field: day === 'bad' ? 'date' : fromArg === 'bad' ? 'from_date' : 'to_date' },
      );
    }
    let from = day ?? fromArg ?? today;
    let to = day ? day : (toArg ?? (fromArg ?? today).plus({ days: 6 }));
    let note = '';
    if (to < from) [from, to] = [to, from];
    if (to.diff(from, 'days').days > 13) to = from.plus({ days: 13 });
    if (to < today) {
      note = say(lang, 'Dieser Tag liegt in der Vergangenheit. ', 'That day is in the past. ');
      from = today;
      to = today.plus({ days: 6 });
    } else if (from < today) from = today;
    const range = await tryRead(() =>
      findAvailableSlots(input.ctx, {
        serviceId: service.value.id,
        staffId: staff.value?.id ?? null,
        from: from.toJSDate(),
        to: to.plus({ days: 1 }).toJSDate(),
        ...VOICE_SLOTS,
        now,
      }),
    );
    // A range past the booking horizon is explained ("we book at most 90 days ahead").
    if (!range.ok) {
      return explain(input, range.err, {
        serviceId: service.value.id,
        staffId: staff.value?.id ?? null,
      });
    }
    const result = range.value;
    const near =
      part?.kind === 'at' && day ? day.plus({ minutes: part.minutes }).toJSDate() : undefined;
    let suggestions = pickSlots(result.slots, zone, lang, { part, near });
    let where = day
      ? say(lang, `am ${spokenDate(day, zone, lang)}`, `on ${spokenDate(day, zone, lang)}`)
      : say(lang, 'im gewünschten Zeitraum', 'in that period');
    if (suggestions.length > 0) {
      const message =
        note +
        say(
          lang,
          `Für ${service.value.name} ${where} wäre frei: ${spokenList(
            suggestions.map((s) => s.spoken),
            lang,
          )}.`,
          `For ${service.value.name} ${where} I have ${spokenList(
            suggestions.map((s) => s.spoken),
            lang,
          )}.`,
        );
      return answer('ok', message, {
        serviceId: service.value.id,
        staffId: staff.value?.id ?? null,
        timeZone: zone,
        slots: suggestions,
        totalFree: new Set(result.slots.map((s) => s.startsAt)).size,
      });
    }
    // Nothing there: the nearest free times in the following week.
    const next = await tryRead(() =>
      findAvailableSlots(input.ctx, {
        serviceId: service.value.id,
        staffId: staff.value?.id ?? null,
        from: to.plus({ days: 1 }).toJSDate(),
        to: to.plus({ days: 8 }).toJSDate(),
        ...VOICE_SLOTS,
        now,
      }),
    );
    // The following week may lie past the booking horizon: then there is nothing later.
    const later = next.ok ? next.value.slots : [];
    suggestions = pickSlots(later, zone, lang, { part });
    if (suggestions.length === 0) suggestions = pickSlots(later, zone, lang);
    where = day ? where : say(lang, 'in diesem Zeitraum', 'in that period');
    const message =
      note +
      say(
        lang,
        `${day ? `Am ${spokenDate(day, zone, lang)}` : 'In diesem Zeitraum'} ist für ${service.value.name} leider nichts frei.`,
        `Sorry, there's nothing free for ${service.value.name} ${where}.`,
      ) +
      ' ' +
      suggestionText(suggestions, lang);
    return answer('refused', message, {
      serviceId: service.value.id,
      staffId: staff.value?.id ?? null,
      timeZone: zone,
      slots: [],
      alternatives: suggestions,
    });
  },
};

const bookAppointmentFn: VoiceFunction = {
  name: 'book_appointment',
  description:
    'Books a service at a start time for the caller (the phone number is taken from the call). Use a start time from check_availability.',
  parameters: {
    type: 'object',
    properties: {
      service: { type: 'string', description: 'Service name (or id).' },
      start: {
        type: 'string',
        description:
          'Start, ISO 8601 (e.g. 2026-12-03T14:30 in the company time zone, or with offset).',
      },
      staff: { type: 'string', description: 'Optional staff member name (or id).' },
      name: { type: 'string', description: "The caller's name." },
      notes: { type: 'string', description: 'Optional note for the team.' },
    },
    required: ['service', 'start'],
  },
  changes: true,
  async run(input) {
    const { company, args, now } = input;
    const lang = company.language;
    const service = await resolveService(input);
    if (!service.ok) return service.answer;
    const staff = await resolveStaff(input, service.value.id);
    if (!staff.ok) return staff.answer;
    const start = startTime(args, company.timezone);
    if (start === null || start === 'bad') return badTime(lang, 'start');
    const phone = callerE164(input);
    if (!phone) return invalidPhone(lang);
    const context = { serviceId: service.value.id, staffId: staff.value?.id ?? null, at: start };
    if (start.getTime() < now.getTime()) {
      return explain(
        input,
        new AppError('BAD_USER_INPUT', 'That time is in the past', { field: 'startsAt' }),
        context,
      );
    }
    const name = text(arg(args, 'name', 'customer_name', 'caller_name'), 200);
    const result = await attempt(input.ctx, () =>
      bookAppointment(input.ctx, {
        serviceId: service.value.id,
        staffId: staff.value?.id ?? null,
        startsAt: start,
        customer: { phone, name },
        source: 'phone',
        callId: input.call.id,
        notes: text(arg(args, 'notes'), 2000),
        now,
      }),
    );
    if (!result.ok) return explain(input, result.err, context);
    const { appointment } = result.value;
    await setOutcome(input, 'booked');
    const trx = await input.ctx.trx();
    const staffRow = await trx('staff')
      .where('id', appointment.staffId)
      .first<{ name: string }>('name');
    const when = spokenDateTime(appointment.startsAt, company.timezone, lang);
    return answer(
      'ok',
      say(
        lang,
        `Ihr Termin für ${service.value.name} ist gebucht: ${when}${staffRow ? ` bei ${staffRow.name}` : ''}.`,
        `Your ${service.value.name} is booked for ${when}${staffRow ? ` with ${staffRow.name}` : ''}.`,
      ),
      {
        appointmentId: appointment.id,
        startsAt: DateTime.fromJSDate(appointment.startsAt, { zone: company.timezone }).toISO(),
        endsAt: DateTime.fromJSDate(appointment.endsAt, { zone: company.timezone }).toISO(),
        staffId: appointment.staffId,
        staffName: staffRow?.name ?? null,
        customerId: result.value.customer.id,
      },
    );
  },
};

interface UpcomingRow {
  id: string;
  startsAt: Date;
  endsAt: string;
  serviceName: string;
  staffName: string | null;
  status: string;
}

async function upcoming(input: FunctionInput, customerId: string): Promise<UpcomingRow[]> {
  const trx = await input.ctx.trx();
  const rows = await trx('appointments as a')
    .join('services as s', function () {
      this.on('s.company_id', 'a.company_id').andOn('s.id', 'a.service_id');
    })
    .leftJoin('staff as st', function () {
      this.on('st.company_id', 'a.company_id').andOn('st.id', 'a.staff_id');
    })
    .where('a.customer_id', customerId)
    .whereIn('a.status', ['scheduled', 'confirmed'])
    .where('a.starts_at', '>', input.now)
    .orderBy('a.starts_at')
    .limit(10)
    .select<
      {
        id: string;
        starts_at: Date;
        ends_at: Date;
        service_name: string;
        staff_name: string | null;
        status: string;
      }[]
    >(
      'a.id',
      'a.starts_at',
      'a.ends_at',
      's.name as service_name',
      'st.name as staff_name',
      'a.status',
    );
  return rows.map((r) => ({
    id: r.id,
    startsAt: r.starts_at,
    endsAt: r.ends_at.toISOString(),
    serviceName: r.service_name,
    staffName: r.staff_name,
    status: r.status,
  }));
}

function describe(row: UpcomingRow, company: VoiceCompany): Record<string, unknown> {
  return {
    appointmentId: row.id,
    service: row.serviceName,
    staffName: row.staffName,
    startsAt: DateTime.fromJSDate(row.startsAt, { zone: company.timezone }).toISO(),
    status: row.status,
    spoken: spokenDateTime(row.startsAt, company.timezone, company.language),
  };
}

const findAppointments: VoiceFunction = {
  name: 'find_appointments',
  description: "Finds the caller's upcoming appointments by the number they call from.",
  parameters: { type: 'object', properties: {}, required: [] },
  changes: false,
  async run(input) {
    const lang = input.company.language;
    if (!callerE164(input)) return invalidPhone(lang);
    const customer = await callerCustomer(input);
    const rows = customer ? await upcoming(input, customer.id) : [];
    if (rows.length === 0) {
      return answer(
        'ok',
        say(
          lang,
          'Unter Ihrer Nummer finde ich keine anstehenden Termine.',
          "I can't find any upcoming appointments under your number.",
        ),
        { appointments: [] },
      );
    }
    const spoken = rows
      .slice(0, MAX_SUGGESTIONS)
      .map(
        (r) =>
          `${r.serviceName} ${say(lang, 'am', 'on')} ${spokenDateTime(r.startsAt, input.company.timezone, lang)}`,
      );
    const more =
      rows.length > MAX_SUGGESTIONS
        ? say(
            lang,
            ` und ${rows.length - MAX_SUGGESTIONS} weitere`,
            ` and ${rows.length - MAX_SUGGESTIONS} more`,
          )
        : '';
    return answer(
      'ok',
      say(
        lang,
        `Sie haben ${rows.length === 1 ? 'einen Termin' : `${rows.length} Termine`}: ${spokenList(spoken, lang, 'and')}${more}.`,
        `You have ${rows.length === 1 ? 'one appointment' : `${rows.length} appointments`}: ${spokenList(spoken, lang, 'and')}${more}.`,
      ),
      { appointments: rows.map((r) => describe(r, input.company)) },
    );
  },
};

/** The caller's appointment the agent means: by id, else the only upcoming one. */
async function callersAppointment(input: FunctionInput): Promise<Found<UpcomingRow>> {
  const lang = input.company.language;
  if (!callerE164(input)) return { ok: false, answer: invalidPhone(lang) };
  const customer = await callerCustomer(input);
  const rows = customer ? await upcoming(input, customer.id) : [];
  const wanted = text(arg(input.args, 'appointment_id', 'appointmentId', 'id'));
  if (wanted) {
    const found = isUuid(wanted) ? rows.find((r) => r.id === wanted) : undefined;
    if (found) return { ok: true, value: found };
    return {
      ok: false,
      answer: answer(
        'invalid',
        say(
          lang,
          'Diesen Termin finde ich unter Ihrer Nummer nicht.',
          "I can't find that appointment under your number.",
        ),
        {
          field: 'appointment_id',
          appointments: rows.slice(0, MAX_SUGGESTIONS).map((r) => describe(r, input.company)),
        },
      ),
    };
  }
  if (rows.length === 1) return { ok: true, value: rows[0] };
  if (rows.length === 0) {
    return {
      ok: false,
      answer: answer(
        'invalid',
        say(
          lang,
          'Unter Ihrer Nummer finde ich keine anstehenden Termine.',
          "I can't find any upcoming appointments under your number.",
        ),
        { field: 'appointment_id', appointments: [] },
      ),
    };
  }
  const spoken = rows
    .slice(0, MAX_SUGGESTIONS)
    .map(
      (r) =>
        `${r.serviceName} ${say(lang, 'am', 'on')} ${spokenDateTime(r.startsAt, input.company.timezone, lang)}`,
    );
  return {
    ok: false,
    answer: answer(
      'invalid',
      say(
        lang,
        `Welchen Termin meinen Sie: ${spokenList(spoken, lang)}?`,
        `Which appointment do you mean: ${spokenList(spoken, lang)}?`,
      ),
      {
        field: 'appointment_id',
        appointments: rows.slice(0, MAX_SUGGESTIONS).map((r) => describe(r, input.company)),
      },
    ),
  };
}

const rescheduleFn: VoiceFunction = {
  name: 'reschedule_appointment',
  description: "Moves one of the caller's upcoming appointments to a new start time.",
  parameters: {
    type: 'object',
    properties: {
      appointment_id: {
        type: 'string',
        description: 'From find_appointments; optional when the caller has only one.',
      },
      new_start: {
        type: 'string',
        description: 'New start, ISO 8601 (local time of the company, or with offset).',
      },
      staff: { type: 'string', description: 'Optional staff member name (or id).' },
    },
    required: ['new_start'],
  },
  changes: true,
  async run(input) {
    const { company, now } = input;
    const lang = company.language;
    const found = await callersAppointment(input);
    if (!found.ok) return found.answer;
    const start = startTime(input.args, company.timezone);
    if (start === null || start === 'bad') return badTime(lang, 'new_start');
    const current = await findAppointment(input.ctx, found.value.id);
    let staffId: string | null = null;
    if (arg(input.args, 'staff', 'staff_id', 'staffId')) {
      const staff = await resolveStaff(input, current!.serviceId);
      if (!staff.ok) return staff.answer;
      staffId = staff.value?.id ?? null;
    }
    const context = { serviceId: current!.serviceId, staffId, at: start };
    if (start.getTime() < now.getTime()) {
      return explain(
        input,
        new AppError('BAD_USER_INPUT', 'That time is in the past', { field: 'startsAt' }),
        context,
      );
    }
    const result = await attempt(input.ctx, () =>
      rescheduleAppointment(input.ctx, found.value.id, {
        startsAt: start,
        staffId,
        source: 'phone',
        now,
      }),
    );
    if (!result.ok) return explain(input, result.err, context);
    await setOutcome(input, 'rescheduled');
    const moved = result.value.appointment;
    return answer(
      'ok',
      say(
        lang,
        `Ihr Termin ist verschoben auf ${spokenDateTime(moved.startsAt, company.timezone, lang)}.`,
        `Your appointment is moved to ${spokenDateTime(moved.startsAt, company.timezone, lang)}.`,
      ),
      {
        appointmentId: moved.id,
        previousAppointmentId: result.value.previous.id,
        startsAt: DateTime.fromJSDate(moved.startsAt, { zone: company.timezone }).toISO(),
        staffId: moved.staffId,
      },
    );
  },
};

const cancelFn: VoiceFunction = {
  name: 'cancel_appointment',
  description:
    "Cancels one of the caller's upcoming appointments. Late cancellations may cost a fee, which the answer states.",
  parameters: {
    type: 'object',
    properties: {
      appointment_id: {
        type: 'string',
        description: 'From find_appointments; optional when the caller has only one.',
      },
      reason: { type: 'string', description: "Why, in the caller's words." },
    },
    required: [],
  },
  changes: true,
  async run(input) {
    const { company, now } = input;
    const lang = company.language;
    const found = await callersAppointment(input);
    if (!found.ok) return found.answer;
    const result = await attempt(input.ctx, () =>
      cancelAppointment(input.ctx, found.value.id, {
        reason: text(arg(input.args, 'reason'), 500),
        source: 'phone',
        now,
      }),
    );
    if (!result.ok) return explain(input, result.err, {});
    await setOutcome(input, 'cancelled');
    const { feeCents, late } = result.value;
    const when = spokenDateTime(found.value.startsAt, company.timezone, lang);
    const fee = feeCents > 0 ? spokenPrice(feeCents, company.currency, lang) : null;
    return answer(
      'ok',
      say(
        lang,
        `Ihr Termin am ${when} ist abgesagt.${fee ? ` Da die Absage kurzfristig ist, fällt eine Gebühr von ${fee} an.` : ''}`,
        `Your appointment on ${when} is cancelled.${fee ? ` As this is a late cancellation, there is a fee of ${fee}.` : ''}`,
      ),
      { appointmentId: found.value.id, late, feeCents, currency: company.currency },
    );
  },
};

const requestCallback: VoiceFunction = {
  name: 'request_callback',
  description:
    'Records that the caller wants to be called back, with the reason and a preferred time.',
  parameters: {
    type: 'object',
    properties: {
      reason: { type: 'string', description: 'What the callback is about.' },
      preferred_time: { type: 'string', description: 'When the caller prefers, in their words.' },
      name: { type: 'string', description: "The caller's name." },
    },
    required: ['reason'],
  },
  changes: true,
  async run(input) {
    const lang = input.company.language;
    const phone = callerE164(input);
    if (!phone) return invalidPhone(lang);
    const reason = text(arg(input.args, 'reason'), 2000);
    if (!reason) {
      return answer(
        'invalid',
        say(lang, 'Worum geht es bei dem Rückruf?', 'What should the callback be about?'),
        { field: 'reason' },
      );
    }
    const preferred = text(arg(input.args, 'preferred_time', 'preferredTime'), 200);
    const result = await attempt(input.ctx, () =>
      createCallbackRequest(input.ctx, {
        phone,
        name: text(arg(input.args, 'name', 'caller_name'), 200),
        reason,
        preferredTimes: preferred ? [preferred] : [],
        callId: input.call.id,
        now: input.now,
      }),
    );
    if (!result.ok) return explain(input, result.err, {});
    await setOutcome(input, 'callback_requested');
    return answer(
      'ok',
      say(
        lang,
        `Ich habe Ihren Rückrufwunsch notiert${preferred ? ` (${preferred})` : ''}. Wir melden uns bei Ihnen.`,
        `I've noted your callback request${preferred ? ` (${preferred})` : ''}. We'll call you back.`,
      ),
      { callbackRequestId: result.value.id, dueAt: result.value.dueAt.toISOString() },
    );
  },
};

export const VOICE_FUNCTIONS: readonly VoiceFunction[] = [
  listServices,
  checkAvailability,
  bookAppointmentFn,
  findAppointments,
  rescheduleFn,
  cancelFn,
  requestCallback,
];

export const FUNCTION_BY_NAME = new Map(VOICE_FUNCTIONS.map((f) => [f.name, f]));
