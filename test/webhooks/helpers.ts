import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Request } from 'express';
import type { Knex } from 'knex';
import { testConfig, type Config } from '../../src/config';
import type { Actor } from '../../src/context/actor';
import type { AppDeps } from '../../src/context/deps';
import type { Database } from '../../src/db/database';
import { createWebhookRouter } from '../../src/webhooks/router';
import { signCalcom, signRetell } from '../../src/webhooks/signatures';
import { credentialAad, sealSecret } from '../../src/security/credential-crypto';
import { WebhookWorker, type WebhookWorkerOptions } from '../../src/webhooks/worker';
import { testDeps } from '../helpers/deps';
import { insertCompany } from '../helpers/world';

export const RETELL_KEY = 'retell-test-key-1';
export const RETELL_KEY_2 = 'retell-test-key-2';
export const CALCOM_SECRET = 'calcom-test-secret';

export function webhookConfig(overrides: Partial<Config> = {}): Config {
  return testConfig({
    port: 0,
    retellApiKeys: [RETELL_KEY, RETELL_KEY_2],
    webhookRateLimitPerMinute: 100_000,
    seedDemoData: false,
    ...overrides,
  });
}

export function makeDeps(db: Database, config: Partial<Config> = {}): AppDeps {
  return testDeps(db, { config: webhookConfig(config) });
}

/** The webhook router alone on an HTTP server, with a worker the test drives by hand. */
export async function startWebhookApp(
  deps: AppDeps,
  opts: {
    authenticate?: (req: Request) => Promise<Actor>;
    worker?: Partial<WebhookWorkerOptions>;
  } = {},
): Promise<{ url: string; worker: WebhookWorker; close: () => Promise<void> }> {
  const worker = new WebhookWorker(deps, { workerId: 'test-worker', ...opts.worker });
  const app = express();
  app.set('trust proxy', deps.config.trustProxy);
  app.use(
    createWebhookRouter(deps, {
      authenticate: opts.authenticate ?? (async () => ({ kind: 'anonymous' })),
    }),
  );
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    worker,
    close: async () => {
      await worker.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export async function postRetell(
  baseUrl: string,
  body: string | object,
  opts: { key?: string; at?: number; path?: string; headers?: Record<string, string> } = {},
): Promise<Response> {
  const raw = typeof body === 'string' ? body : JSON.stringify(body);
  return fetch(`${baseUrl}${opts.path ?? '/api/webhooks/retell'}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-retell-signature': signRetell(raw, opts.key ?? RETELL_KEY, opts.at ?? Date.now()),
      ...opts.headers,
    },
    body: raw,
  });
}

export async function postCalcom(
  baseUrl: string,
  body: string | object,
  opts: {
    /** The company endpoint id (a Cal.com credential); without it, the shared URL (refused). */
    endpoint?: string;
    secret?: string;
    signature?: string;
    headers?: Record<string, string>;
  } = {},
): Promise<Response> {
  const raw = typeof body === 'string' ? body : JSON.stringify(body);
  const path = opts.endpoint ? `/api/webhooks/calcom/${opts.endpoint}` : '/api/webhooks/calcom';
  return fetch(`${baseUrl}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-cal-signature-256': opts.signature ?? signCalcom(raw, opts.secret ?? CALCOM_SECRET),
      'x-cal-webhook-version': '2021-10-20',
      ...opts.headers,
    },
    body: raw,
  });
}

export async function waitFor<T>(
  fn: () => Promise<T | undefined | null | false>,
  timeoutMs = 10_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

let seq = 0;
export const unique = (prefix: string) =>
  `${prefix}_${process.pid}_${++seq}_${Math.random().toString(36).slice(2, 8)}`;

export interface SeededCompany {
  companyId: string;
  serviceId: string;
  staffId: string;
  staff2Id: string;
  branchId: string;
  agentId: string;
  retellAgentRowId: string;
  number: string;
  phoneNumberId: string;
  eventTypeId: number;
  mappingId: string;
  customerPhone: string;
  customerId: string;
  calcomUserId: number;
  /** The company's Cal.com credential (secret CALCOM_SECRET): its endpoint id. */
  calcomEndpointId: string;
}

/**
 * Registers a provider credential for a company directly in the database, sealed as the server
 * seals it (the test configuration's keys), and returns its id (the endpoint id).
 */
export async function insertCredential(
  su: Knex,
  companyId: string,
  provider: 'calcom' | 'retell',
  secret: string,
  extra: Record<string, unknown> = {},
): Promise<string> {
  const id = randomUUID();
  const sealed = sealSecret(testConfig().credentialKeys, secret, credentialAad(companyId, id));
  await su('provider_credentials').insert({
    id,
    company_id: companyId,
    provider,
    label: `${provider} test`,
    secret_key_id: sealed.keyId,
    secret_ciphertext: sealed.blob,
    ...extra,
  });
  return id;
}

let eventTypeSeq = 1000 + Math.floor(Math.random() * 1000);
let numberSeq = 1000000 + Math.floor(Math.random() * 1000000);

/** A company with a branch, two staff, a service, a Retell agent and number, a Cal.com mapping. */
export async function seedCompany(
  su: Knex,
  slug = unique('co').replace(/_/g, '-').toLowerCase(),
): Promise<SeededCompany> {
  const companyId = await insertCompany(su, { name: slug, slug });
  const [{ id: branchId }] = await su('branches')
    .insert({ company_id: companyId, name: 'Main' })
    .returning('id');
  const [{ id: staffId }] = await su('staff')
    .insert({ company_id: companyId, name: 'Sam', email: `sam@${slug}.test`, branch_id: branchId })
    .returning('id');
  const [{ id: staff2Id }] = await su('staff')
    .insert({ company_id: companyId, name: 'Alex', email: `alex@${slug}.test` })
    .returning('id');
  const [{ id: serviceId }] = await su('services')
    .insert({ company_id: companyId, name: 'Haircut', duration_minutes: 30, price_cents: 2500 })
    .returning('id');
  const agentId = unique('agent');
  const [{ id: retellAgentRowId }] = await su('retell_agents')
    .insert({ company_id: companyId, agent_id: agentId, name: 'Front desk' })
    .returning('id');
  const number = `+4930${++numberSeq}`;
  const [{ id: phoneNumberId }] = await su('phone_numbers')
    .insert({ company_id: companyId, number_e164: number, retell_agent_id: retellAgentRowId })
    .returning('id');
  const eventTypeId = ++eventTypeSeq;
  const [{ id: mappingId }] = await su('team_event_type_mappings')
    .insert({
      company_id: companyId,
      calcom_event_type_id: eventTypeId,
      service_id: serviceId,
      branch_id: branchId,
    })
    .returning('id');
  const calcomUserId = eventTypeId * 10;
  await su('calcom_team_members').insert({
    company_id: companyId,
    calcom_user_id: calcomUserId,
    staff_id: staffId,
  });
  await su('calcom_team_members').insert({
    company_id: companyId,
    email: `alex@${slug}.test`,
    staff_id: staff2Id,
  });
  const calcomEndpointId = await insertCredential(su, companyId, 'calcom', CALCOM_SECRET);
  const customerPhone = `+4917${++numberSeq}`;
  const [{ id: customerId }] = await su('customers')
    .insert({ company_id: companyId, name: 'Known Caller', phone_e164: customerPhone })
    .returning('id');
  return {
    companyId,
    serviceId,
    staffId,
    staff2Id,
    branchId,
    agentId,
    retellAgentRowId,
    number,
    phoneNumberId,
    eventTypeId,
    mappingId,
    customerPhone,
    customerId,
    calcomUserId,
    calcomEndpointId,
  };
}

/** A Retell webhook body shaped like a real one, with fields this server does not know. */
export function retellEvent(
  event: 'call_started' | 'call_ended' | 'call_analyzed' | string,
  call: Record<string, unknown>,
): Record<string, unknown> {
  const started = 1_767_000_000_000;
  const base: Record<string, unknown> = {
    call_type: 'phone_call',
    agent_version: 3,
    call_status: 'ongoing',
    direction: 'inbound',
    start_timestamp: started,
    metadata: { campaign: 'winter' },
    retell_llm_dynamic_variables: { customer_name: 'Known Caller' },
    opt_out_sensitive_data_storage: false,
    telephony_identifier: { twilio_call_sid: 'CA0123456789abcdef' },
    some_future_field: { nested: [1, 2, 3] },
  };
  if (event === 'call_ended' || event === 'call_analyzed') {
    Object.assign(base, {
      call_status: 'ended',
      end_timestamp: started + 95_000,
      duration_ms: 95_000,
      transcript: 'Agent: Hello, how can I help?\nUser: I would like a haircut tomorrow.',
      transcript_object: [
        {
          role: 'agent',
          content: 'Hello, how can I help?',
          words: [{ word: 'Hello', start: 0.1, end: 0.4 }],
        },
      ],
      recording_url: 'https://example.invalid/recording.wav',
      disconnection_reason: 'user_hangup',
      latency: { e2e: { p50: 800, p90: 1200 } },
      call_cost: {
        product_costs: [{ product: 'elevenlabs_tts', unitPrice: 1, cost: 60 }],
        total_duration_seconds: 95,
        total_duration_unit_price: 1,
        combined_cost: 123.4,
      },
    });
  }
  if (event === 'call_analyzed') {
    base.call_analysis = {
      call_summary: 'Caller booked a haircut.',
      in_voicemail: false,
      user_sentiment: 'Positive',
      call_successful: true,
      custom_analysis_data: { intent: 'booking' },
      agent_task_completion_rating: 'Complete',
    };
  }
  return { event, call: { ...base, ...call } };
}

/** A Cal.com webhook body shaped like a real one, with fields this server does not know. */
export function calcomEvent(
  triggerEvent: string,
  payload: Record<string, unknown>,
  createdAt = new Date().toISOString(),
): Record<string, unknown> {
  const start = (payload.startTime as string | undefined) ?? '2027-03-01T09:00:00.000Z';
  const end = (payload.endTime as string | undefined) ?? '2027-03-01T09:30:00.000Z';
  return {
    triggerEvent,
    createdAt,
    payload: {
      type: 'haircut',
      title: 'Haircut between Sam and Jane Doe',
      description: '',
      additionalNotes: 'Please be quick',
      customInputs: {},
      startTime: start,
      endTime: end,
      organizer: {
        id: 1,
        name: 'Sam',
        email: 'someone-else@example.test',
        username: 'sam',
        timeZone: 'Europe/Berlin',
        language: { locale: 'en' },
        timeFormat: 'h:mma',
        utcOffset: 60,
      },
      responses: {
        name: { label: 'your_name', value: 'Jane Doe' },
        email: { label: 'email_address', value: 'jane@example.test' },
        location: { label: 'location', value: { optionValue: '', value: 'inPerson' } },
      },
      userFieldsResponses: {},
      attendees: [
        {
          email: 'jane@example.test',
          name: 'Jane Doe',
          firstName: '',
          lastName: '',
          timeZone: 'Europe/Berlin',
          language: { locale: 'de' },
          utcOffset: 60,
        },
      ],
      location: 'Salon',
      destinationCalendar: null,
      hideCalendarNotes: false,
      requiresConfirmation: null,
      seatsPerTimeSlot: null,
      price: 0,
      currency: 'eur',
      length: 30,
      bookingId: Math.floor(Math.random() * 1e6),
      metadata: {},
      status: 'ACCEPTED',
      appsStatus: [],
      aFieldFromTheFuture: { anything: true },
      ...payload,
    },
  };
}
