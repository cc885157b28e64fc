import type { Knex } from 'knex';
import type { Rejection } from './body';
import type { WebhookEnvelope, WebhookProvider, WebhookStatus } from './envelope';

/**
 * The durable inbox, reached only through its database functions (see the webhooks migration):
 * the runtime role cannot write webhook_events directly.
 */

export interface IngestMeta {
  /** The exact request body. */
  raw: string;
  headers: Record<string, string>;
  sourceIp: string | null;
  requestId: string | null;
}

/** The company credential that verified a delivery on a company's own endpoint. */
export interface CredentialBinding {
  credentialId: string;
  companyId: string;
}

/**
 * Stores a verified delivery once; a second delivery of the same event reports `inserted: false`.
 * A delivery verified by a company credential is stored bound to it, and its dedupe key is scoped
 * to the credential, so one company's deliveries can never pre-empt (deduplicate away) another's.
 */
export async function storeWebhookEvent(
  knex: Knex,
  envelope: WebhookEnvelope,
  meta: IngestMeta,
  binding?: CredentialBinding,
): Promise<{ id: string; inserted: boolean }> {
  const args = [
    envelope.provider,
    envelope.eventType,
    binding ? `cred:${binding.credentialId}:${envelope.dedupeKey}` : envelope.dedupeKey,
    meta.raw,
    jsonbText(envelope.payload, meta.raw),
    JSON.stringify(meta.headers),
    meta.sourceIp,
    meta.requestId,
  ];
  const { rows } = binding
    ? await knex.raw<{ rows: { id: string; inserted: boolean }[] }>(
        'select id, inserted from webhook_ingest_bound(?, ?, ?, ?, ?::jsonb, ?::jsonb, ?, ?, ?, ?)',
        [...args, binding.credentialId, binding.companyId],
      )
    : await knex.raw<{ rows: { id: string; inserted: boolean }[] }>(
        'select id, inserted from webhook_ingest(?, ?, ?, ?, ?::jsonb, ?::jsonb, ?, ?)',
        args,
      );
  if (rows.length !== 1) throw new Error('webhook_ingest returned no row');
  return rows[0];
}

/**
 * jsonb cannot hold U+0000, which JSON allows as `\u0000`; the parsed copy drops it (the raw text
 * keeps the exact bytes) rather than refusing the event forever.
 */
function jsonbText(payload: unknown, raw: string): string {
  if (!raw.includes('\\u0000')) return JSON.stringify(payload);
  return JSON.stringify(payload, (_key, value: unknown) =>
    typeof value === 'string' ? value.replaceAll('\u0000', '') : value,
  );
}

export interface ClaimedEvent {
  id: string;
  provider: WebhookProvider;
  eventType: string;
  dedupeKey: string;
  payload: unknown;
  attempts: number;
  receivedAt: Date;
  resolvedCompanyId: string | null;
  /** The company of the credential that verified the event; it may touch no other company. */
  credentialCompanyId: string | null;
}

interface EventRow {
  id: string;
  provider: WebhookProvider;
  event_type: string;
  dedupe_key: string;
  payload: unknown;
  attempts: number;
  received_at: Date;
  resolved_company_id: string | null;
  credential_company_id: string | null;
}

/** Claims up to `limit` due events for `worker`, each leased for `leaseMs`. */
export async function claimWebhookEvents(
  knex: Knex,
  worker: string,
  limit: number,
  leaseMs: number,
): Promise<ClaimedEvent[]> {
  const { rows } = await knex.raw<{ rows: EventRow[] }>(
    'select * from webhook_claim(?, ?, ?) order by received_at',
    [worker, limit, leaseMs],
  );
  return rows.map((r) => ({
    id: r.id,
    provider: r.provider,
    eventType: r.event_type,
    dedupeKey: r.dedupe_key,
    payload: r.payload,
    attempts: r.attempts,
    receivedAt: r.received_at,
    resolvedCompanyId: r.resolved_company_id,
    credentialCompanyId: r.credential_company_id ?? null,
  }));
}

export type FinalStatus = Extract<WebhookStatus, 'processed' | 'ignored' | 'unroutable' | 'dead'>;

/**
 * Marks a claimed event done. Run it in the transaction of the event's effect: if the lease was
 * lost, the database raises and the effect rolls back with it.
 */
export async function completeWebhookEvent(
  knex: Knex | Knex.Transaction,
  id: string,
  worker: string,
  status: FinalStatus,
  companyId: string | null,
  note: string | null = null,
): Promise<void> {
  await knex.raw('select webhook_complete(?, ?, ?, ?, ?)', [id, worker, status, companyId, note]);
}

/**
 * Marks many claimed events done in one statement, in the transaction of their effects: if any
 * lease was lost, the database raises and all the effects roll back with it.
 */
export async function completeWebhookEvents(
  knex: Knex | Knex.Transaction,
  worker: string,
  companyId: string | null,
  done: Array<{ id: string; status: FinalStatus; note: string | null }>,
): Promise<void> {
  if (done.length === 0) return;
  await knex.raw('select webhook_complete_many(?::uuid[], ?, ?::text[], ?, ?::text[])', [
    done.map((d) => d.id),
    worker,
    done.map((d) => d.status),
    companyId,
    // null notes are sent as SQL nulls in the array
    done.map((d) => d.note) as string[],
  ]);
}

/** Records a failed attempt, to be retried at `retryAt`, or dead when `retryAt` is null. */
export async function failWebhookEvent(
  knex: Knex,
  id: string,
  worker: string,
  companyId: string | null,
  error: string,
  retryAt: Date | null,
): Promise<boolean> {
  const { rows } = await knex.raw<{ rows: { ok: boolean | null }[] }>(
    'select webhook_fail(?, ?, ?, ?, ?) as ok',
    [id, worker, companyId, error, retryAt],
  );
  return rows[0]?.ok === true;
}

/** Extends the leases of events `worker` still holds; returns how many it still holds. */
export async function extendWebhookLeases(
  knex: Knex,
  worker: string,
  ids: string[],
  leaseMs: number,
): Promise<number> {
  if (ids.length === 0) return 0;
  const { rows } = await knex.raw<{ rows: { n: number }[] }>(
    'select webhook_extend_leases(?, ?::uuid[], ?) as n',
    [worker, ids, leaseMs],
  );
  return rows[0]?.n ?? 0;
}

/**
 * Hands back events `worker` holds but will not finish: due at once, the attempt not counted.
 * Events it no longer holds (finished, or claimed by another worker) are left alone.
 */
export async function releaseWebhookEvents(
  knex: Knex,
  worker: string,
  ids: string[],
): Promise<number> {
  if (ids.length === 0) return 0;
  const { rows } = await knex.raw<{ rows: { n: number }[] }>(
    'select webhook_release(?, ?::uuid[]) as n',
    [worker, ids],
  );
  return rows[0]?.n ?? 0;
}

/**
 * Stores a verified delivery that cannot be kept as JSON: raw text (or base64), status `rejected`,
 * the reason in last_error. Never claimed by the worker; purged after the retention period.
 */
export async function storeRejectedWebhookEvent(
  knex: Knex,
  rejection: Rejection,
  meta: Omit<IngestMeta, 'raw'>,
): Promise<{ id: string; inserted: boolean }> {
  const { rows } = await knex.raw<{ rows: { id: string; inserted: boolean }[] }>(
    'select id, inserted from webhook_reject(?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?)',
    [
      rejection.provider,
      rejection.eventType,
      rejection.dedupeKey,
      rejection.raw,
      rejection.rawEncoding,
      rejection.reason,
      JSON.stringify(meta.headers),
      meta.sourceIp,
      meta.requestId,
    ],
  );
  if (rows.length !== 1) throw new Error('webhook_reject returned no row');
  return rows[0];
}
