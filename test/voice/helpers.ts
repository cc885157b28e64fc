import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { Knex } from 'knex';
import { DateTime } from 'luxon';
import { testConfig, type Config } from '../../src/config';
import { ANONYMOUS } from '../../src/context/actor';
import type { AppDeps } from '../../src/context/deps';
import type { Database } from '../../src/db/database';
import { createVoiceRouter, type VoiceRouterOptions } from '../../src/voice';
import type { CallLimiter } from '../../src/voice/limits';
import { signRetell } from '../../src/webhooks/signatures';
import { startTestServer, type TestServer } from '../helpers/server';
import { testDeps } from '../helpers/deps';
import { insertCompany } from '../helpers/world';

export const VOICE_KEY = 'retell-voice-test-key';

/** A real server that accepts the voice agent from loopback (the allowlist is the only change). */
export function startVoiceServer(overrides: Partial<Config> = {}): Promise<TestServer> {
  return startTestServer({
    retellApiKeys: [VOICE_KEY],
    voiceAllowedCidrs: ['127.0.0.1/32', '::1/128'],
    seedDemoData: false,
    ...overrides,
  });
}

let seq = 0;
const uniq = () => `${process.pid}${++seq}${Math.random().toString(36).slice(2, 7)}`;

export interface Salon {
  companyId: string;
  name: string;
  agentId: string;
  agentRowId: string;
  number: string;
  phoneNumberId: string;
  haircutId: string;
  colourId: string;
  samId: string;
  alexId: string;
  customerPhone: string;
  customerId: string;
}

/**
 * A salon: Haircut (30 min, 25 €) and Colour (90 min, 60 €) by Sam and Alex, open Monday to
 * Saturday 09:00 to 18:00 (Sunday closed), a Retell agent and number, and one known customer.
 */
export async function seedSalon(
  su: Knex,
  opts: { language?: 'de' | 'en'; timezone?: string; region?: string } = {},
): Promise<Salon> {
  const u = uniq();
  const name = `Salon ${u}`;
  const companyId = await insertCompany(su, {
    name,
    slug: `salon-${u}`,
    timezone: opts.timezone ?? 'Europe/Berlin',
    defaultRegion: opts.region ?? 'DE',
  });
  if (opts.language) {
    await su('voice_agent_settings').insert({ company_id: companyId, language: opts.language });
  }
  const ins = async (table: string, row: Record<string, unknown>) =>
    (
      await su(table)
        .insert({ company_id: companyId, ...row })
        .returning('id')
    )[0].id as string;
  const samId = await ins('staff', { name: 'Sam Berger' });
  const alexId = await ins('staff', { name: 'Alex Kurz' });
  const haircutId = await ins('services', {
    name: 'Haircut',
    duration_minutes: 30,
    price_cents: 2500,
  });
  const colourId = await ins('services', {
    name: 'Colour',
    duration_minutes: 90,
    price_cents: 6000,
  });
  for (const staffId of [samId, alexId]) {
    for (const serviceId of [haircutId, colourId]) {
      await ins('staff_services', { staff_id: staffId, service_id: serviceId });
    }
    for (let weekday = 1; weekday <= 6; weekday++) {
      await ins('working_hours', {
        staff_id: staffId,
        weekday,
        starts_at: '09:00',
        ends_at: '18:00',
      });
    }
  }
  const agentId = `agent_${u}`;
  const agentRowId = await ins('retell_agents', { agent_id: agentId, name: 'Front desk' });
  const number = `+4930${String(1000000 + Math.floor(Math.random() * 8999999))}`;
  const phoneNumberId = await ins('phone_numbers', {
    number_e164: number,
    retell_agent_id: agentRowId,
  });
  const customerPhone = `+49151${String(10000000 + Math.floor(Math.random() * 89999999))}`;
  const customerId = await ins('customers', { name: 'Maria Muster', phone_e164: customerPhone });
  return {
    companyId,
    name,
    agentId,
    agentRowId,
    number,
    phoneNumberId,
    haircutId,
    colourId,
    samId,
    alexId,
    customerPhone,
    customerId,
  };
}

export interface CallInfo {
  call_id: string;
  agent_id?: string;
  from_number?: string;
  to_number?: string;
  direction?: string;
  call_status?: string;
}

export function callFor(salon: Salon, from: string, extra: Partial<CallInfo> = {}): CallInfo {
  return {
    call_id: `call_${uniq()}`,
    agent_id: salon.agentId,
    from_number: from,
    to_number: salon.number,
    direction: 'inbound',
    call_status: 'ongoing',
    ...extra,
  };
}

export interface PostOptions {
  key?: string;
  at?: number;
  /** '/api/retell' or '/api/retell/<endpoint id>' */
  prefix?: string;
  headers?: Record<string, string>;
  signature?: string | null;
}

export async function signedPost(
  url: string,
  raw: string,
  opts: PostOptions = {},
): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...opts.headers };
  if (opts.signature !== null) {
    headers['x-retell-signature'] =
      opts.signature ?? signRetell(raw, opts.key ?? VOICE_KEY, opts.at ?? Date.now());
  }
  const res = await fetch(url, { method: 'POST', headers, body: raw });
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body };
}

export function callFunction(
  base: string,
  name: string,
  call: CallInfo,
  args: Record<string, unknown> = {},
  opts: PostOptions = {},
) {
  const raw = JSON.stringify({ name, call, args });
  return signedPost(`${base}${opts.prefix ?? '/api/retell'}/functions/${name}`, raw, opts);
}

export function inbound(
  base: string,
  payload: { agent_id?: string; from_number: string; to_number: string },
  opts: PostOptions = {},
) {
  const raw = JSON.stringify({ event: 'call_inbound', call_inbound: payload });
  return signedPost(`${base}${opts.prefix ?? '/api/retell'}/inbound`, raw, opts);
}

/** The next date (at least `minDays` ahead) that falls on an ISO weekday, in the zone. */
export function nextWeekday(weekday: number, zone = 'Europe/Berlin', minDays = 2): DateTime {
  let d = DateTime.now().setZone(zone).startOf('day').plus({ days: minDays });
  while (d.weekday !== weekday) d = d.plus({ days: 1 });
  return d;
}

/** Local 'YYYY-MM-DDTHH:mm' of a day and a time. */
export function localStart(day: DateTime, hhmm: string): string {
  return `${day.toISODate()}T${hhmm}`;
}

/** The voice router alone on an HTTP server, on a database shared with other apps of the test. */
export async function startVoiceApp(
  db: Database,
  overrides: Partial<Config> = {},
  options: { limiter?: CallLimiter; authenticate?: VoiceRouterOptions['authenticate'] } = {},
): Promise<{ url: string; deps: AppDeps; close: () => Promise<void> }> {
  const deps: AppDeps = testDeps(db, {
    config: testConfig({
      retellApiKeys: [VOICE_KEY],
      voiceAllowedCidrs: ['127.0.0.1/32', '::1/128'],
      seedDemoData: false,
      ...overrides,
    }),
  });
  const app = express();
  app.set('trust proxy', deps.config.trustProxy);
  const router = createVoiceRouter(deps, {
    authenticate: options.authenticate ?? (async () => ({ actor: ANONYMOUS, companyId: null })),
    limiter: options.limiter,
  });
  app.use(router);
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    deps,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (!options.limiter) await router.close();
    },
  };
}

export async function counterValue(
  counter: { get(): Promise<{ values: { value: number; labels: Record<string, unknown> }[] }> },
  labels: Record<string, string> = {},
): Promise<number> {
  const { values } = await counter.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))
    .reduce((n, v) => n + v.value, 0);
}
