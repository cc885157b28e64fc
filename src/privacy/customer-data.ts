import type { Knex } from 'knex';
import { actorId, actorType } from '../context/actor';
import type { RequestContext } from '../context/request-context';
import { AppError } from '../errors/app-error';
import { ActivityLog } from '../models';
import { inTenantTransaction } from '../tenancy/tenant-binding';

/**
 * A caller's rights under the GDPR: a copy of everything about them (Art. 15/20) and erasure
 * (Art. 17). Every tenant table with a customer_id column must be listed here: the privacy test
 * reads the catalogue and fails for a table this module does not cover.
 */
export const CUSTOMER_TABLES = ['customer_notes', 'appointments', 'calls', 'callback_requests'];

/**
 * Tenant tables that reach a person through their calls (a call_id column, no customer_id): the
 * voice agent's function-call log and its stored answers, which can repeat the caller's name,
 * number and appointment. Every tenant table with a call_id column must be in one of the two
 * lists: the privacy test reads the catalogue and fails for a table this module does not cover.
 */
export const CALL_TABLES = ['voice_function_calls', 'voice_idempotency'];

/** What an erased person's name becomes; their phone and email become null. */
export const ERASED_NAME = 'Erased customer';
/** callback_requests.phone_e164 is required: an unassigned E.164 number stands in for it. */
export const ERASED_PHONE = '+99900000000';
export const ERASED_TEXT = '[erased]';

interface CustomerRow {
  id: string;
  name: string;
  phone_e164: string | null;
  email: string | null;
}

async function loadCustomer(trx: Knex.Transaction, id: string): Promise<CustomerRow> {
  const row = (await trx('customers').where({ id }).first()) as CustomerRow | undefined;
  if (!row) throw new AppError('NOT_FOUND', 'Customer not found', { field: 'customerId' });
  return row;
}

/** Rows of `table` that concern the person: by customer_id, or by their phone where stored. */
function concerning(trx: Knex.Transaction, table: string, c: CustomerRow): Knex.QueryBuilder {
  const q = trx(table).where((w) => {
    w.where('customer_id', c.id);
    if (c.phone_e164 && table === 'calls') {
      w.orWhere('from_number', c.phone_e164).orWhere('to_number', c.phone_e164);
    }
    if (c.phone_e164 && table === 'callback_requests') w.orWhere('phone_e164', c.phone_e164);
  });
  return q;
}

/** Ids of the person's calls: linked to them, or from or to their number. */
async function callIdsOf(trx: Knex.Transaction, c: CustomerRow): Promise<string[]> {
  return concerning(trx, 'calls', c).pluck('id') as Promise<string[]>;
}

function needlesOf(c: CustomerRow): string[] {
  return [c.name, c.phone_e164, c.email].filter((v): v is string => !!v && v.trim().length >= 3);
}

/** Activity entries about the person or naming them. */
async function activityOf(trx: Knex.Transaction, c: CustomerRow): Promise<unknown[]> {
  const needles = needlesOf(c).map((n) => n.toLowerCase());
  return trx('activity_logs')
    .where((w) => {
      w.where('subject_id', c.id);
      for (const n of needles) {
        w.orWhereRaw('strpos(lower(details::text), ?) > 0', [n]).orWhereRaw(
          "strpos(lower(coalesce(reason, '')), ?) > 0",
          [n],
        );
      }
    })
    .orderBy('created_at');
}

/**
 * Everything the company holds about one person, as one JSON document keyed by table. The export
 * is a query, and a query's reads share a READ ONLY transaction; since every export is audited, it
 * reads and writes its activity entry in a tenant transaction of its own, committed before the
 * document is returned (no export without its entry).
 */
export async function exportCustomerData(
  ctx: RequestContext,
  customerId: string,
): Promise<Record<string, unknown>> {
  return inTenantTransaction(ctx.deps.db.knex, ctx.requireCompanyId(), async (trx) => {
    const customer = await loadCustomer(trx, customerId);
    const out: Record<string, unknown> = {
      exportedAt: new Date().toISOString(),
      companyId: ctx.companyId,
      customers: [customer],
    };
    for (const table of CUSTOMER_TABLES) {
      out[table] = await concerning(trx, table, customer).orderBy('created_at');
    }
    const callIds = await callIdsOf(trx, customer);
    for (const table of CALL_TABLES) {
      out[table] = await trx(table).whereIn('call_id', callIds).orderBy('created_at');
    }
    out.activity_logs = await activityOf(trx, customer);
    await ActivityLog.query(trx).insert({
      actorType: actorType(ctx.actor),
      actorId: actorId(ctx.actor),
      action: 'customer.export',
      subjectType: 'Customer',
      subjectId: customer.id,
      reason: null,
      details: Object.fromEntries(
        [...CUSTOMER_TABLES, ...CALL_TABLES, 'activity_logs'].map((t) => [
          t,
          (out[t] as unknown[]).length,
        ]),
      ),
      requestId: ctx.requestId,
      ip: ctx.ip ?? null,
    });
    ctx.deps.metrics.privacyOperations.inc({ operation: 'customer_export' });
    return out;
  });
}

/**
 * Anonymises one person everywhere in the company, irreversibly: their name, phone and email, the
 * transcripts, summaries and recordings of their calls, note bodies, free text of appointments and
 * callbacks, the voice agent's stored answers to their calls (each keeps only its outcome),
 * activity details naming them and stored webhook payloads naming them. Rows stay, so the business
 * keeps its counts, appointment statistics and the function-call log (function, outcome, latency;
 * it holds no arguments or answer text).
 *
 * privacy_erase_customer_traces is a platform function (it empties the company's stored webhook
 * payloads), which the runtime role cannot execute: the whole erasure, with its activity entry,
 * runs in one platform transaction bound to the company (the same row level security as the
 * request's own transaction), so it stays all-or-nothing.
 */
export async function eraseCustomer(
  ctx: RequestContext,
  customerId: string,
): Promise<{ customerId: string; rows: Record<string, number> }> {
  const companyId = ctx.requireCompanyId();
  return inTenantTransaction(ctx.deps.db.platform, companyId, async (trx) => {
    const c = await loadCustomer(trx, customerId);
    const rows: Record<string, number> = {};
    // Before the calls lose the person's number, which links the unlinked ones to them. The
    // function-call log holds no arguments or answer text: it stays as it is.
    const callIds = await callIdsOf(trx, c);
    // A stored answer keeps its outcome only; the hash of the arguments (which may include the
    // person's number, a guessable input) is replaced by a random one.
    rows.voice_idempotency = await trx('voice_idempotency')
      .whereIn('call_id', callIds)
      .update({
        response: trx.raw(
          `case when response is null then null else jsonb_build_object(
             'ok', coalesce(response->'ok', 'false'::jsonb),
             'outcome', coalesce(response->'outcome', '"error"'::jsonb),
             'message', ?::text) end`,
          [ERASED_TEXT],
        ),
        args_hash: trx.raw("encode(sha256(convert_to(gen_random_uuid()::text, 'UTF8')), 'hex')"),
      });
    rows.customer_notes = await concerning(trx, 'customer_notes', c).update({ body: ERASED_TEXT });
    rows.appointments = await concerning(trx, 'appointments', c).update({
      notes: null,
      cancellation_reason: null,
    });
    rows.calls = await concerning(trx, 'calls', c).update({
      transcript: null,
      summary: null,
      recording_url: null,
      disconnection_reason: null,
      metadata: {},
      ...(c.phone_e164
        ? {
            from_number: trx.raw('case when from_number = ? then null else from_number end', [
              c.phone_e164,
            ]),
            to_number: trx.raw('case when to_number = ? then null else to_number end', [
              c.phone_e164,
            ]),
          }
        : {}),
    });
    rows.callback_requests = await concerning(trx, 'callback_requests', c).update({
      phone_e164: ERASED_PHONE,
      name: null,
      reason: null,
      resolution: null,
      preferred_times: JSON.stringify([]),
    });
    const { rows: traced } = (await trx.raw(
      'select privacy_erase_customer_traces(?, ?::text[]) as n',
      [c.id, needlesOf(c)],
    )) as { rows: { n: number }[] };
    rows.activity_logs_and_webhook_events = traced[0]?.n ?? 0;
    rows.customers = await trx('customers')
      .where({ id: c.id })
      .update({
        name: ERASED_NAME,
        phone_e164: null,
        email: null,
        preferred_language: null,
        archived_at: trx.raw('coalesce(archived_at, now())'),
      });
    // Written after the scrub, and naming nothing but the id.
    await ActivityLog.query(trx).insert({
      actorType: actorType(ctx.actor),
      actorId: actorId(ctx.actor),
      action: 'customer.erase',
      subjectType: 'Customer',
      subjectId: c.id,
      reason: null,
      details: { rows },
      requestId: ctx.requestId,
      ip: ctx.ip ?? null,
    });
    ctx.deps.metrics.privacyOperations.inc({ operation: 'customer_erase' });
    return { customerId: c.id, rows };
  });
}
