import { createHmac } from 'node:crypto';
import type { GraphQLSchema } from 'graphql';
import { DateTime } from 'luxon';
import { graphqlCheck, type LoadRequest } from './load';
import { buildOperation, isDateOnly, RECURSE, signature, type Providers } from './schema-probe';
import { BENCH_HORIZON_DAYS, FUTURE_DAYS, TIME_ZONE, WORK_END_HOUR, WORK_START_HOUR } from './seed';
import type { SeedResult } from './seed';

/**
 * The operations the benchmark drives. Each builds the autocannon request for a target server;
 * the ones that depend on work in progress elsewhere (availability, booking, the voice agent) are
 * built from what the server offers at run time, or skipped with the reason.
 */

export interface BenchContext {
  seed: SeedResult;
  /** Unique per run, so webhook and voice-agent call ids never repeat across runs. */
  runId: string;
  retellKey: string;
  voiceToken: string;
  now: Date;
}

export interface Target {
  url: string;
  token: string;
}

export type Phase = 'warmup' | 'measure';

export interface Operation {
  name: string;
  title: string;
  /** What was sent, for the report. */
  detail: string;
  build(target: Target, phase: Phase): LoadRequest;
}

export interface Skipped {
  name: string;
  reason: string;
}

export const gid = (type: string, companyId: string, id: string) =>
  Buffer.from(`${type}:${companyId}:${id}`).toString('base64url');

const JSON_HEADERS = { 'content-type': 'application/json' };

function cycle<T>(items: T[]): () => T {
  let i = 0;
  return () => items[i++ % items.length];
}

function graphqlOperation(
  name: string,
  title: string,
  query: string,
  variableSets: Array<Record<string, unknown>>,
): Operation {
  const bodies = variableSets.map((variables) => JSON.stringify({ query, variables }));
  return {
    name,
    title,
    detail: query.replace(/\s+/g, ' ').trim(),
    build: (target) => {
      const next = cycle(bodies);
      return {
        method: 'POST',
        path: '/graphql',
        headers: { ...JSON_HEADERS, authorization: `Bearer ${target.token}` },
        body: bodies[0],
        next: bodies.length > 1 ? () => ({ body: next() }) : undefined,
        check: graphqlCheck,
      };
    },
  };
}

export const APPOINTMENTS_PAGE_QUERY = `query AppointmentsPage($first: Int!) {
  appointments(first: $first) {
    edges {
      cursor
      node {
        id startsAt endsAt status source notes priceCents
        customer { id name phoneE164 email }
        staff { id name }
        service { id name durationMinutes priceCents }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}`;

export function appointmentsPage(first: number): Operation {
  return graphqlOperation(
    first === 50 ? 'appointmentsPage' : `appointmentsPage${first}`,
    `appointments(first: ${first}) with customer, staff, service`,
    APPOINTMENTS_PAGE_QUERY,
    [{ first }],
  );
}

/** The floor endpoint's version of the appointments page (same rows, same JSON shape). */
export function floorPage(ctx: BenchContext, first = 50): Operation {
  return {
    // Named like the page it stands beside; the report tells them apart by server.
    name: first === 50 ? 'appointmentsPage' : `appointmentsPage${first}`,
    title: `raw SQL floor: appointments page (${first})`,
    detail: `GET /appointments?first=${first}: BEGIN; set_config; one SQL with joins; COMMIT`,
    build: () => ({
      method: 'GET',
      path: `/appointments?first=${first}`,
      headers: { 'x-company-id': ctx.seed.bench.id },
      check: (status, body) =>
        status === 200 && body.startsWith('{"data":')
          ? null
          : `HTTP ${status}: ${body.slice(0, 200)}`,
    }),
  };
}

export function staticOperations(ctx: BenchContext): Operation[] {
  const b = ctx.seed.bench;
  return [
    appointmentsPage(50),
    appointmentsPage(1),
    graphqlOperation(
      'customerSearch',
      'customers(first: 20, search: name prefix)',
      `query CustomerSearch($search: String!) {
        customers(first: 20, filter: {search: $search}) {
          edges { node { id name phoneE164 email } }
          pageInfo { hasNextPage endCursor }
        }
      }`,
      b.namePrefixes.map((search) => ({ search })),
    ),
    graphqlOperation(
      'customerPhone',
      'customers(first: 20, search: exact phone)',
      `query CustomerPhone($search: String!) {
        customers(first: 20, filter: {search: $search}) {
          edges { node { id name phoneE164 email } }
        }
      }`,
      b.customerPhones.map((search) => ({ search })),
    ),
    graphqlOperation(
      'dashboard',
      'dashboard (today)',
      `query Dashboard {
        dashboard {
          from to appointmentsByStatus { status count } upcomingToday callsToday
          callBookingRate openCallbackRequests
        }
      }`,
      [{}],
    ),
    graphqlOperation(
      'node',
      'node(id) of an appointment, with customer and service',
      `query Node($id: ID!) {
        node(id: $id) {
          id
          ... on Appointment {
            startsAt endsAt status source
            customer { id name phoneE164 }
            service { id name }
          }
        }
      }`,
      b.appointmentIds.map((id) => ({ id: gid('Appointment', b.id, id) })),
    ),
  ];
}

function tomorrow(now: Date): DateTime {
  return DateTime.fromJSDate(now, { zone: TIME_ZONE }).startOf('day').plus({ days: 1 });
}

/** availableSlots for 14 days, when the schema has it: the first page (its default size). */
export function availabilityOperation(
  ctx: BenchContext,
  schema: GraphQLSchema,
): Operation | Skipped {
  const b = ctx.seed.bench;
  const from = tomorrow(ctx.now);
  const to = from.plus({ days: 14 });
  const providers: Providers = {
    serviceId: () => gid('Service', b.id, b.bookingServiceId),
    from: (t) => (isDateOnly(t) ? from.toISODate() : from.toISO()),
    to: (t) => (isDateOnly(t) ? to.toISODate() : to.toISO()),
    start: (t) => (isDateOnly(t) ? from.toISODate() : from.toISO()),
    end: (t) => (isDateOnly(t) ? to.toISODate() : to.toISO()),
    date: () => from.toISODate(),
    startDate: () => from.toISODate(),
    endDate: () => to.toISODate(),
    days: () => 14,
    input: () => RECURSE,
    range: () => RECURSE,
  };
  const built = buildOperation(schema, 'query', 'availableSlots', providers);
  if ('missing' in built) return { name: 'availableSlots', reason: built.missing };
  const op = graphqlOperation(
    'availableSlots',
    'availableSlots for 14 days, every staff member, first page',
    built.query,
    [built.variables],
  );
  op.detail = `${signature(schema, 'query', 'availableSlots')}; sent ${JSON.stringify(built.variables)}`;
  return op;
}

/**
 * Free (staff, start) pairs past the seeded appointments and inside the benchmark company's
 * horizon: every weekday, every half hour of the working day, every staff member.
 */
export function bookingSlots(ctx: BenchContext): () => { staffId: string; startsAt: string } {
  const staff = ctx.seed.bench.staffIds;
  const first = DateTime.fromJSDate(ctx.now, { zone: TIME_ZONE })
    .startOf('day')
    .plus({ days: FUTURE_DAYS + 2 });
  let day = first;
  let minute = WORK_START_HOUR * 60;
  let s = 0;
  return () => {
    for (;;) {
      if (s >= staff.length) {
        s = 0;
        minute += 30;
      }
      if (minute >= WORK_END_HOUR * 60) {
        minute = WORK_START_HOUR * 60;
        day = day.plus({ days: 1 });
      }
      if (day.diff(first, 'days').days > BENCH_HORIZON_DAYS - FUTURE_DAYS - 5) {
        throw new Error('booking slots exhausted: run shorter or raise BENCH_HORIZON_DAYS');
      }
      if (day.weekday > 5) {
        day = day.plus({ days: 1 });
        continue;
      }
      const startsAt = day.set({ hour: Math.floor(minute / 60), minute: minute % 60 }).toISO()!;
      return { staffId: staff[s++], startsAt };
    }
  };
}

/** bookAppointment with a free slot and a new caller each time, when the schema has it. */
export function bookingOperation(
  ctx: BenchContext,
  schema: GraphQLSchema,
  nextSlot: () => { staffId: string; startsAt: string },
): Operation | Skipped {
  const b = ctx.seed.bench;
  const enumValue = (t: unknown, preferred: string[]) => {
    const values = (t as { getValues?: () => Array<{ name: string }> }).getValues?.();
    if (!values) return preferred[0].toLowerCase();
    return preferred.find((p) => values.some((v) => v.name === p)) ?? values[0].name;
  };
  const providers: Providers = {
    input: () => RECURSE,
    serviceId: () => gid('Service', b.id, b.bookingServiceId),
    staffId: () => '__STAFF__',
    startsAt: () => '__START__',
    start: () => '__START__',
    startTime: () => '__START__',
    customer: () => RECURSE,
    phone: () => '__PHONE__',
    phoneE164: () => '__PHONE__',
    name: () => 'Bench Caller',
    customerName: () => 'Bench Caller',
    customerPhone: () => '__PHONE__',
    source: (t) => enumValue(t, ['MANUAL', 'PHONE', 'WEB']),
  };
  const built = buildOperation(schema, 'mutation', 'bookAppointment', providers);
  if ('missing' in built) return { name: 'bookAppointment', reason: built.missing };
  const template = JSON.stringify({ query: built.query, variables: built.variables });
  let n = 0;
  const body = () => {
    const slot = nextSlot();
    n += 1;
    return template
      .replace('__STAFF__', gid('Staff', b.id, slot.staffId))
      .replace('__START__', slot.startsAt)
      .replaceAll('__PHONE__', `+49160${String(10_000_000 + ((n * 7919) % 89_999_999))}`);
  };
  return {
    name: 'bookAppointment',
    title: 'bookAppointment: a free slot, a new caller',
    detail: `${signature(schema, 'mutation', 'bookAppointment')}; sent ${JSON.stringify(built.variables)}`,
    build: (target) => ({
      method: 'POST',
      path: '/graphql',
      headers: { ...JSON_HEADERS, authorization: `Bearer ${target.token}` },
      body: body(),
      next: () => ({ body: body() }),
      check: graphqlCheck,
    }),
  };
}

export function signRetell(body: string, key: string, at = Date.now()): string {
  const ts = String(at);
  return `v=${ts},d=${createHmac('sha256', key).update(body).update(ts).digest('hex')}`;
}

/** The dedupe-key prefix of the webhook events one phase sends. */
export const webhookCallPrefix = (ctx: BenchContext, scale: number, phase: Phase) =>
  `${ctx.runId}_x${scale}_${phase === 'warmup' ? 'w' : 'm'}_`;

/** Signed Retell deliveries, each a new call (a new dedupe key), signed when sent. */
export function webhookOperation(ctx: BenchContext, scale: number): Operation {
  const b = ctx.seed.bench;
  return {
    name: 'webhookRetell',
    title: 'signed Retell webhook (call_started), accepted = 202',
    detail: 'POST /api/webhooks/retell, x-retell-signature v=<ms>,d=<hmac>, a new call_id each',
    build: (_target, phase) => {
      const prefix = webhookCallPrefix(ctx, scale, phase);
      let n = 0;
      const body = () =>
        JSON.stringify({
          event: 'call_started',
          call: {
            call_id: `${prefix}${n++}`,
            agent_id: b.retellAgentId,
            call_type: 'phone_call',
            direction: 'inbound',
            call_status: 'ongoing',
            from_number: b.customerPhones[n % b.customerPhones.length],
            to_number: b.phoneNumber,
            start_timestamp: Date.now(),
          },
        });
      const next = () => {
        const text = body();
        return { body: text, headers: { 'x-retell-signature': signRetell(text, ctx.retellKey) } };
      };
      const first = next();
      return {
        method: 'POST',
        path: '/api/webhooks/retell',
        headers: { ...JSON_HEADERS, ...first.headers },
        body: first.body,
        next,
        check: (status, text) => (status === 202 ? null : `HTTP ${status}: ${text.slice(0, 200)}`),
      };
    },
  };
}

/** Paths where a voice-agent check-availability function might live; the first that exists wins. */
export const VOICE_PATHS = [
  '/api/retell/functions/check_availability',
  '/api/retell/functions/check-availability',
  '/api/retell/function/check-availability',
  '/api/retell/check-availability',
  '/api/retell/check_availability',
  '/api/retell/functions/checkAvailability',
  '/api/voice-agent/check-availability',
  '/api/voice/check-availability',
];

/** check_availability for the booking service over 7 days from tomorrow (Retell's body shape). */
export function voiceBody(ctx: BenchContext, callId: string): string {
  const b = ctx.seed.bench;
  const from = tomorrow(ctx.now);
  return JSON.stringify({
    name: 'check_availability',
    call: voiceCall(ctx, callId, b.customerPhones[0]),
    args: {
      service: b.bookingServiceName,
      from_date: from.toISODate(),
      to_date: from.plus({ days: 6 }).toISODate(),
    },
  });
}

function voiceCall(ctx: BenchContext, callId: string, from: string): Record<string, unknown> {
  const b = ctx.seed.bench;
  return {
    call_id: callId,
    agent_id: b.retellAgentId,
    call_type: 'phone_call',
    direction: 'inbound',
    call_status: 'ongoing',
    from_number: from,
    to_number: b.phoneNumber,
  };
}

export function voiceHeaders(ctx: BenchContext, body: string): Record<string, string> {
  return {
    ...JSON_HEADERS,
    'x-voice-agent-secret': ctx.voiceToken,
    'x-retell-signature': signRetell(body, ctx.retellKey),
  };
}

/** A voice answer the agent could use: 2xx and a message (a refusal with alternatives counts). */
function voiceCheck(status: number, text: string): string | null {
  if (status < 200 || status >= 300) return `HTTP ${status}: ${text.slice(0, 200)}`;
  return text.includes('"message"') ? null : `no message: ${text.slice(0, 200)}`;
}

/**
 * Free (staff, start) pairs for the voice bookings, walking back from the end of the horizon so
 * they never meet the GraphQL bookings (which walk forward from the start).
 */
export function voiceBookingSlots(ctx: BenchContext): () => { staffId: string; startsAt: string } {
  const staff = ctx.seed.bench.staffIds;
  const last = DateTime.fromJSDate(ctx.now, { zone: TIME_ZONE })
    .startOf('day')
    .plus({ days: BENCH_HORIZON_DAYS - 5 });
  let day = last;
  let minute = WORK_START_HOUR * 60;
  let s = 0;
  return () => {
    for (;;) {
      if (s >= staff.length) {
        s = 0;
        minute += 30;
      }
      if (minute >= WORK_END_HOUR * 60) {
        minute = WORK_START_HOUR * 60;
        day = day.minus({ days: 1 });
      }
      if (
        day.diff(DateTime.fromJSDate(ctx.now, { zone: TIME_ZONE }), 'days').days <
        FUTURE_DAYS + 10
      ) {
        throw new Error('voice booking slots exhausted: run shorter or raise BENCH_HORIZON_DAYS');
      }
      if (day.weekday > 5) {
        day = day.minus({ days: 1 });
        continue;
      }
      const startsAt = day.set({ hour: Math.floor(minute / 60), minute: minute % 60 }).toISO()!;
      return { staffId: staff[s++], startsAt };
    }
  };
}

/** book_appointment for a free slot and a new caller, each in a new call. */
export function voiceBookOperation(
  ctx: BenchContext,
  nextSlot: () => { staffId: string; startsAt: string },
): Operation {
  const b = ctx.seed.bench;
  return {
    name: 'voiceBookAppointment',
    title: 'voice agent book_appointment (signed, bearer secret)',
    detail: 'POST /api/retell/functions/book_appointment, a free slot, a new caller and call each',
    build: (_target, phase) => {
      let n = 0;
      const next = () => {
        const slot = nextSlot();
        n += 1;
        const body = JSON.stringify({
          name: 'book_appointment',
          call: voiceCall(
            ctx,
            `${ctx.runId}_vb_${phase}_${n}`,
            `+49162${String(10_000_000 + ((n * 7919 + (phase === 'warmup' ? 1 : 0)) % 89_999_999))}`,
          ),
          args: {
            service: b.bookingServiceName,
            staff: slot.staffId,
            start: slot.startsAt,
            name: 'Bench Caller',
          },
        });
        return { body, headers: voiceHeaders(ctx, body) };
      };
      const first = next();
      return {
        method: 'POST',
        path: '/api/retell/functions/book_appointment',
        headers: first.headers,
        body: first.body,
        next,
        check: (status, text) =>
          voiceCheck(status, text) ??
          (text.includes('"ok":true') ? null : `not booked: ${text.slice(0, 200)}`),
      };
    },
  };
}

/** The inbound-call webhook for a known caller (company data, first name, next appointment). */
export function voiceInboundOperation(ctx: BenchContext): Operation {
  const b = ctx.seed.bench;
  return {
    name: 'voiceInbound',
    title: 'voice inbound-call webhook (signed), known caller',
    detail: 'POST /api/retell/inbound, call_inbound {agent_id, from_number, to_number}',
    build: () => {
      let n = 0;
      const next = () => {
        const body = JSON.stringify({
          event: 'call_inbound',
          call_inbound: {
            agent_id: b.retellAgentId,
            from_number: b.customerPhones[n++ % b.customerPhones.length],
            to_number: b.phoneNumber,
          },
        });
        return { body, headers: voiceHeaders(ctx, body) };
      };
      const first = next();
      return {
        method: 'POST',
        path: '/api/retell/inbound',
        headers: first.headers,
        body: first.body,
        next,
        check: (status, text) =>
          status === 200 && text.includes('"company_name"')
            ? null
            : `HTTP ${status}: ${text.slice(0, 200)}`,
      };
    },
  };
}

/** Finds the voice agent's check-availability route: anything but the catch-all 404 counts. */
export async function probeVoicePath(
  ctx: BenchContext,
  baseUrl: string,
  explicit?: string,
): Promise<{ path?: string; tried: string[]; answer?: string }> {
  const tried = explicit ? [explicit] : VOICE_PATHS;
  for (const path of tried) {
    const body = voiceBody(ctx, `${ctx.runId}_probe_${path.length}`);
    const res = await fetch(`${baseUrl}${path}`, {
      method: 'POST',
      headers: voiceHeaders(ctx, body),
      body,
    });
    const text = await res.text();
    if (res.status === 404) continue;
    return { path, tried, answer: `HTTP ${res.status}: ${text.slice(0, 300)}` };
  }
  return { tried };
}

export function voiceOperation(ctx: BenchContext, path: string): Operation {
  return {
    name: 'voiceCheckAvailability',
    title: 'voice agent check_availability, one service over 7 days (signed, bearer secret)',
    detail: `POST ${path}, a new call_id each (per-call limits)`,
    build: (_target, phase) => {
      let n = 0;
      const next = () => {
        const body = voiceBody(ctx, `${ctx.runId}_va_${phase}_${n++}`);
        return { body, headers: voiceHeaders(ctx, body) };
      };
      const first = next();
      return {
        method: 'POST',
        path,
        headers: first.headers,
        body: first.body,
        next,
        check: voiceCheck,
      };
    },
  };
}
