import { createHash } from 'node:crypto';
import { jsonDepth, jsonProblem, MAX_JSON_DEPTH } from '../validation/text';
import type { EnvelopeResult, WebhookEnvelope, WebhookProvider } from './envelope';

/**
 * What a verified delivery is: an event the inbox can store as JSON, or a body that can only be
 * kept as raw text and marked `rejected` with the reason. Checked before the database sees it:
 * Postgres `jsonb` refuses unpaired surrogates (`"\ud800"`) and very deep nesting, and text
 * cannot hold NUL bytes, so such a body would otherwise fail to store on every retry.
 */
export type Delivery =
  { ok: true; envelope: WebhookEnvelope; raw: string } | { ok: false; rejection: Rejection };

export interface Rejection {
  provider: WebhookProvider;
  /** The event name when the body names one, else `unknown`. */
  eventType: string;
  /** `rejected:sha256-<hash of the bytes>`: a retry of the same delivery finds the first row. */
  dedupeKey: string;
  /** The body as text, or base64 when its bytes are not storable text. */
  raw: string;
  rawEncoding: 'utf8' | 'base64';
  reason: string;
}

const EVENT_NAME = /^[A-Za-z0-9_.:-]{1,100}$/;

export function rejectionOf(
  provider: WebhookProvider,
  body: Buffer,
  reason: string,
  eventType?: string,
): Rejection {
  const text = body.toString('utf8');
  const storable = Buffer.from(text, 'utf8').equals(body) && !text.includes('\u0000');
  return {
    provider,
    eventType: eventType && EVENT_NAME.test(eventType) ? eventType : 'unknown',
    dedupeKey: `rejected:sha256-${createHash('sha256').update(body).digest('hex')}`,
    raw: storable ? text : body.toString('base64'),
    rawEncoding: storable ? 'utf8' : 'base64',
    reason,
  };
}

/** Reads a verified body with the provider's envelope rules, or says why it cannot be stored. */
export function readDelivery(
  provider: WebhookProvider,
  body: Buffer,
  envelope: (raw: Buffer) => EnvelopeResult,
): Delivery {
  const reject = (reason: string, eventType?: string): Delivery => ({
    ok: false,
    rejection: rejectionOf(provider, body, reason, eventType),
  });
  const text = body.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(body)) return reject('Body must be UTF-8 JSON');
  if (jsonDepth(text, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
    return reject(`Body nests deeper than ${MAX_JSON_DEPTH} levels`);
  }
  const parsed = envelope(body);
  if (!parsed.ok) return reject(parsed.message);
  // NUL in a value is dropped from the JSON copy (the raw text keeps it); anything else that jsonb
  // refuses makes the whole delivery unstorable as JSON.
  const problem = jsonProblem(parsed.envelope.payload, {
    maxDepth: MAX_JSON_DEPTH,
    allowNulInValues: true,
  });
  if (problem) {
    return reject(
      `Body field ${problem.path || '(root)'} ${problem.problem}`,
      parsed.envelope.eventType,
    );
  }
  if (text.includes('\u0000')) return reject('Body holds a NUL byte', parsed.envelope.eventType);
  return { ok: true, envelope: parsed.envelope, raw: text };
}
