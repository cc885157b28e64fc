import type { Knex } from 'knex';
import type { RequestContext } from '../../context/request-context';
import { Call, Customer } from '../../models';
import { companySettings } from '../companies/company-settings';
import { e164OrNull } from '../phone';

/**
 * How Retell's call events (call_started, call_ended, call_analyzed) change a company's Call,
 * upserted by Retell's call id. Events may arrive in any order (a call that never connects has no
 * call_started at all): each field keeps the value from the latest stage seen, the status only
 * moves forward, and an earlier event arriving late fills in only what is still missing.
 *
 * `planRetellCallPatch` is the rule, pure; `applyRetellCallEvents` applies many events of one
 * company with a fixed number of statements (insert the new calls, lock them all, look their
 * callers up, write the changed rows), folding the events of one call in the order given.
 */

export type RetellCallStage = 'call_started' | 'call_ended' | 'call_analyzed';

/** How far along a call each event describes; data from an earlier stage never overwrites a later one. */
const STAGE: Record<RetellCallStage, number> = { call_started: 1, call_ended: 2, call_analyzed: 3 };

/** Status order: a call only moves forward (registered, then ongoing, then one of the final states). */
const STATUS_RANK: Record<string, number> = {
  registered: 0,
  ongoing: 1,
  ended: 2,
  not_connected: 2,
  error: 2,
};

const SENTIMENTS = new Set(['negative', 'positive', 'neutral', 'unknown']);

/** The agent and number the event was routed by. */
export interface RetellCallRoute {
  retellAgentId: string | null;
  phoneNumberId: string | null;
}

type CallFields = Pick<
  Call,
  | 'startedAt'
  | 'endedAt'
  | 'durationMs'
  | 'transcript'
  | 'summary'
  | 'sentiment'
  | 'callSuccessful'
  | 'disconnectionReason'
  | 'recordingUrl'
  | 'costCents'
  | 'fromNumber'
  | 'toNumber'
>;

/** The columns of a call the events write. */
export type RetellCallState = CallFields &
  Pick<Call, 'id' | 'status' | 'metadata' | 'retellAgentId' | 'phoneNumberId' | 'customerId'>;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function str(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

function msDate(value: unknown): Date | null {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0) return null;
  const d = new Date(n);
  return Number.isNaN(d.getTime()) ? null : d;
}

function int(value: unknown, max = 2147483647): number | null {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) return null;
  const n = Math.round(value);
  return n <= max ? n : null;
}

function statusFor(event: RetellCallStage, reported: unknown): string {
  const given = typeof reported === 'string' && reported in STATUS_RANK ? reported : null;
  if (event === 'call_started') {
    return given && STATUS_RANK[given] >= STATUS_RANK.ongoing ? given : 'ongoing';
  }
  return given && STATUS_RANK[given] === 2 ? given : 'ended';
}

/** Retell's `call_cost.combined_cost` is in cents. */
function costCents(cost: unknown): number | null {
  if (typeof cost === 'number') return int(cost);
  if (isRecord(cost)) return int(cost.combined_cost);
  return null;
}

function fieldsOf(call: Record<string, unknown>): Partial<CallFields> {
  const analysis = isRecord(call.call_analysis) ? call.call_analysis : {};
  const startedAt = msDate(call.start_timestamp);
  const endedAt = msDate(call.end_timestamp);
  const sentiment = str(analysis.user_sentiment)?.toLowerCase() ?? null;
  const fromRaw = str(call.from_number);
  const toRaw = str(call.to_number);
  const fields: Partial<CallFields> = {
    startedAt,
    endedAt,
    durationMs:
      int(call.duration_ms) ??
      (startedAt && endedAt && endedAt >= startedAt
        ? int(endedAt.getTime() - startedAt.getTime())
        : null),
    transcript: str(call.transcript),
    summary: str(analysis.call_summary),
    sentiment: sentiment && SENTIMENTS.has(sentiment) ? sentiment : null,
    callSuccessful: typeof analysis.call_successful === 'boolean' ? analysis.call_successful : null,
    disconnectionReason: str(call.disconnection_reason),
    recordingUrl: str(call.recording_url),
    costCents: costCents(call.call_cost),
    fromNumber: fromRaw ? (e164OrNull(fromRaw) ?? fromRaw) : null,
    toNumber: toRaw ? (e164OrNull(toRaw) ?? toRaw) : null,
  };
  for (const key of Object.keys(fields) as (keyof CallFields)[]) {
    if (fields[key] === null || fields[key] === undefined) delete fields[key];
  }
  return fields;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  return a === b;
}

/** Retell's call id of an event's call object, or null when it has none. */
export function retellCallIdOf(call: Record<string, unknown>): string | null {
  return str(call.call_id);
}

export function directionOf(call: Record<string, unknown>): 'inbound' | 'outbound' {
  return call.direction === 'outbound' ? 'outbound' : 'inbound';
}

/** The caller's number as sent: who the company talks to. */
export function callerNumberOf(call: Record<string, unknown>): unknown {
  return directionOf(call) === 'outbound' ? call.to_number : call.from_number;
}

/**
 * What one event changes on the call as it stands (`current`), without the customer (looked up by
 * the caller's number while the call has none). Pure.
 */
export function planRetellCallPatch(
  current: RetellCallState,
  event: RetellCallStage,
  call: Record<string, unknown>,
  route: RetellCallRoute,
): Partial<RetellCallState> {
  const stage = STAGE[event];
  const retellMeta = isRecord(current.metadata?.retell) ? current.metadata.retell : {};
  const seenStage = typeof retellMeta.stage === 'number' ? retellMeta.stage : 0;
  const later = stage >= seenStage;
  const patch: Partial<RetellCallState> = {};

  for (const [key, value] of Object.entries(fieldsOf(call)) as [keyof CallFields, unknown][]) {
    const existing = current[key];
    if ((existing === null || later) && !sameValue(existing, value)) {
      (patch as Record<string, unknown>)[key] = value;
    }
  }
  const status = statusFor(event, call.call_status);
  const rankNow = STATUS_RANK[current.status] ?? 0;
  const rankNew = STATUS_RANK[status];
  if (status !== current.status && (rankNew > rankNow || (rankNew === rankNow && later))) {
    patch.status = status;
  }
  if (current.retellAgentId === null && route.retellAgentId)
    patch.retellAgentId = route.retellAgentId;
  if (current.phoneNumberId === null && route.phoneNumberId)
    patch.phoneNumberId = route.phoneNumberId;

  const analysis = isRecord(call.call_analysis) ? call.call_analysis : undefined;
  const nextMeta: Record<string, unknown> = {
    ...retellMeta,
    stage: Math.max(stage, seenStage),
    events: [...new Set([...(Array.isArray(retellMeta.events) ? retellMeta.events : []), event])],
  };
  if (later) {
    for (const [key, value] of [
      ['agentId', call.agent_id],
      ['agentVersion', call.agent_version],
      ['callType', call.call_type],
      ['metadata', call.metadata],
      ['inVoicemail', analysis?.in_voicemail],
      ['customAnalysisData', analysis?.custom_analysis_data],
    ] as const) {
      if (value !== undefined && value !== null) nextMeta[key] = value;
    }
  }
  if (JSON.stringify(nextMeta) !== JSON.stringify(retellMeta)) {
    patch.metadata = { ...current.metadata, retell: nextMeta };
  }
  return patch;
}

/** One Retell call event for `applyRetellCallEvents`; `call` carries a call id. */
export interface RetellCallEventInput {
  event: RetellCallStage;
  call: Record<string, unknown>;
  route: RetellCallRoute;
}

export interface RetellCallEventApplied {
  /** The Call's id. */
  callId: string;
  /** This event created the Call. */
  inserted: boolean;
  direction: 'inbound' | 'outbound';
  /** This event changed the Call (when false, it brought nothing new). */
  changed: boolean;
}

const STATE_COLUMNS = `
  id uuid, status text, from_number text, to_number text, started_at timestamptz,
  ended_at timestamptz, duration_ms integer, transcript text, summary text, sentiment text,
  call_successful boolean, disconnection_reason text, recording_url text, cost_cents integer,
  metadata jsonb, retell_agent_id uuid, phone_number_id uuid, customer_id uuid`;

const STATE_SET = [
  'status',
  'from_number',
  'to_number',
  'started_at',
  'ended_at',
  'duration_ms',
  'transcript',
  'summary',
  'sentiment',
  'call_successful',
  'disconnection_reason',
  'recording_url',
  'cost_cents',
  'metadata',
  'retell_agent_id',
  'phone_number_id',
  'customer_id',
]
  .map((c) => `${c} = v.${c}`)
  .join(', ');

function stateRow(s: RetellCallState): Record<string, unknown> {
  return {
    id: s.id,
    status: s.status,
    from_number: s.fromNumber,
    to_number: s.toNumber,
    started_at: s.startedAt,
    ended_at: s.endedAt,
    duration_ms: s.durationMs,
    transcript: s.transcript,
    summary: s.summary,
    sentiment: s.sentiment,
    call_successful: s.callSuccessful,
    disconnection_reason: s.disconnectionReason,
    recording_url: s.recordingUrl,
    cost_cents: s.costCents,
    metadata: s.metadata,
    retell_agent_id: s.retellAgentId,
    phone_number_id: s.phoneNumberId,
    customer_id: s.customerId,
  };
}

/**
 * Applies many Retell call events of the context's company in the tenant transaction `trx`, with
 * four statements whatever their number: the calls not yet known are inserted (one multi-row
 * insert, conflicts ignored), all the calls are locked (so concurrent events of one call
 * serialise, in call id order against deadlocks), the callers are looked up once, and each changed
 * call is written once with its final state. The events of one call are folded in the order
 * given, exactly as if applied one after the other. All or nothing: a failure throws and the
 * caller's transaction rolls back.
 */
export async function applyRetellCallEvents(
  ctx: RequestContext,
  trx: Knex.Transaction,
  inputs: RetellCallEventInput[],
): Promise<RetellCallEventApplied[]> {
  if (inputs.length === 0) return [];
  const companyId = ctx.requireCompanyId();
  const ids = inputs.map((i) => {
    const id = retellCallIdOf(i.call);
    if (!id) throw new Error('Retell call event without call.call_id');
    return id;
  });
  const firstDirection = new Map<string, 'inbound' | 'outbound'>();
  ids.forEach((id, n) => {
    if (!firstDirection.has(id)) firstDirection.set(id, directionOf(inputs[n].call));
  });
  const distinct = [...firstDirection.keys()].sort();

  const { rows: insertedRows } = await trx.raw<{ rows: { retell_call_id: string }[] }>(
    `insert into calls (company_id, retell_call_id, direction, status)
     select ?::uuid, u.r, u.d, 'registered'
       from unnest(?::text[], ?::text[]) as u(r, d)
      order by u.r
     on conflict (company_id, retell_call_id) do nothing
     returning retell_call_id`,
    [companyId, distinct, distinct.map((id) => firstDirection.get(id)!)],
  );
  const newCalls = new Set(insertedRows.map((r) => r.retell_call_id));

  const rows = await Call.query(trx)
    .whereIn('retell_call_id', distinct)
    .orderBy('retell_call_id')
    .forUpdate();
  const state = new Map<string, RetellCallState>();
  for (const row of rows) state.set(row.retellCallId, { ...row });
  for (const id of distinct) {
    if (!state.has(id)) throw new Error(`call ${id} vanished after upsert`);
  }

  // The callers of the calls without a customer, looked up at once.
  const region = (await companySettings(ctx, trx)).defaultRegion;
  const phoneOf = (call: Record<string, unknown>) => e164OrNull(callerNumberOf(call), region);
  const phones = new Set<string>();
  inputs.forEach((input, n) => {
    if (state.get(ids[n])!.customerId !== null) return;
    const phone = phoneOf(input.call);
    if (phone) phones.add(phone);
  });
  const customers = new Map<string, string>();
  if (phones.size > 0) {
    const found = await Customer.query(trx)
      .whereIn('phone_e164', [...phones])
      .select('id', 'phone_e164');
    for (const c of found) if (c.phoneE164) customers.set(c.phoneE164, c.id);
  }

  const changedCalls = new Set<string>();
  const results = inputs.map((input, n): RetellCallEventApplied => {
    const id = ids[n];
    const current = state.get(id)!;
    const patch = planRetellCallPatch(current, input.event, input.call, input.route);
    if (current.customerId === null) {
      const phone = phoneOf(input.call);
      const customerId = phone ? customers.get(phone) : undefined;
      if (customerId) patch.customerId = customerId;
    }
    const changed = Object.keys(patch).length > 0;
    if (changed) {
      state.set(id, { ...current, ...patch });
      changedCalls.add(id);
    }
    const inserted = newCalls.delete(id);
    return { callId: current.id, inserted, direction: firstDirection.get(id)!, changed };
  });

  if (changedCalls.size > 0) {
    const records = [...changedCalls].sort().map((id) => stateRow(state.get(id)!));
    await trx.raw(
      `update calls c set ${STATE_SET}
         from jsonb_to_recordset(?::jsonb) as v(${STATE_COLUMNS})
        where c.id = v.id and c.company_id = ?::uuid`,
      [JSON.stringify(records), companyId],
    );
  }
  return results;
}
