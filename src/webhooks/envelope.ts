import { createHash } from 'node:crypto';

export const WEBHOOK_PROVIDERS = ['retell', 'calcom'] as const;
export type WebhookProvider = (typeof WEBHOOK_PROVIDERS)[number];

export const WEBHOOK_STATUSES = [
  'pending',
  'processing',
  'processed',
  'ignored',
  'unroutable',
  'failed',
  'dead',
  'rejected',
] as const;
export type WebhookStatus = (typeof WEBHOOK_STATUSES)[number];

/** What the inbox needs to know about a verified delivery before storing it. */
export interface WebhookEnvelope {
  provider: WebhookProvider;
  eventType: string;
  dedupeKey: string;
  payload: Record<string, unknown>;
}

export type EnvelopeResult =
  { ok: true; envelope: WebhookEnvelope } | { ok: false; message: string };

const MAX_KEY_PART = 200;
const EVENT_NAME = /^[A-Za-z0-9_.:-]{1,100}$/;

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A key part as given when short and printable, else its hash, so keys stay bounded. */
function keyPart(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value !== 'string' || value === '') return undefined;
  return value.length <= MAX_KEY_PART ? value : `h-${sha256(value)}`;
}

function parseJsonObject(raw: Buffer): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(raw.toString('utf8'));
    return isRecord(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Retell: `{"event": "...", "call": {...}}`. It sends no event id, so the same event of the same
 * call is the same delivery: `event:call_id`. Chat events carry a chat id instead; anything
 * without either is keyed by the hash of its exact bytes.
 */
export function retellEnvelope(raw: Buffer): EnvelopeResult {
  const payload = parseJsonObject(raw);
  if (!payload) return { ok: false, message: 'Body must be a JSON object' };
  const event = payload.event;
  if (typeof event !== 'string' || !EVENT_NAME.test(event)) {
    return { ok: false, message: 'Body must name its event' };
  }
  const call = isRecord(payload.call) ? payload.call : undefined;
  const chat = isRecord(payload.chat) ? payload.chat : undefined;
  const callId = keyPart(call?.call_id);
  const chatId = keyPart(chat?.chat_id);
  const subject = callId ?? (chatId ? `chat-${chatId}` : `sha256-${sha256(raw)}`);
  return {
    ok: true,
    envelope: { provider: 'retell', eventType: event, dedupeKey: `${event}:${subject}`, payload },
  };
}

/**
 * Cal.com: `{"triggerEvent": "...", "createdAt": "<ISO>", "payload": {...}}`. No event id either:
 * `triggerEvent:uid:createdAt` names one delivery of one booking event (a booking's uid alone would
 * merge, say, two no-show updates).
 */
export function calcomEnvelope(raw: Buffer): EnvelopeResult {
  const body = parseJsonObject(raw);
  if (!body) return { ok: false, message: 'Body must be a JSON object' };
  const trigger = body.triggerEvent;
  if (typeof trigger !== 'string' || !EVENT_NAME.test(trigger)) {
    return { ok: false, message: 'Body must name its triggerEvent' };
  }
  const inner = isRecord(body.payload) ? body.payload : {};
  const uid = keyPart(inner.uid) ?? keyPart(inner.bookingId);
  const createdAt = keyPart(body.createdAt);
  const subject = uid ?? (createdAt ? '' : `sha256-${sha256(raw)}`);
  return {
    ok: true,
    envelope: {
      provider: 'calcom',
      eventType: trigger,
      dedupeKey: `${trigger}:${subject}:${createdAt ?? ''}`,
      payload: body,
    },
  };
}
