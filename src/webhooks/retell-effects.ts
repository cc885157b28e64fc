import type { RequestContext } from '../context/request-context';
import { Call } from '../models';
import { findCustomerByAnyPhone } from '../domain/customers/customer.service';
import { e164OrNull } from '../domain/phone';
import { isRecord } from './envelope';
import { PermanentWebhookError } from './errors';
import type { RetellRouteData } from './routing';

export const RETELL_CALL_EVENTS = ['call_started', 'call_ended', 'call_analyzed'] as const;
type RetellCallEvent = (typeof RETELL_CALL_EVENTS)[number];

export function isRetellCallEvent(event: string): event is RetellCallEvent {
  return (RETELL_CALL_EVENTS as readonly string[]).includes(event);
}

/** How far along a call each event describes; data from an earlier stage never overwrites a later one. */
const STAGE: Record<RetellCallEvent, number> = { call_started: 1, call_ended: 2, call_analyzed: 3 };

/** Status order: a call only moves forward (registered, then ongoing, then one of the final states). */
const STATUS_RANK: Record<string, number> = {
  registered: 0,
  ongoing: 1,
  ended: 2,
  not_connected: 2,
  error: 2,
};

const SENTIMENTS = new Set(['negative', 'positive', 'neutral', 'unknown']);

export interface EffectResult {
  outcome: 'processed' | 'ignored';
  note?: string | null;
  /** Counters to bump once the transaction has committed. */
  afterCommit: Array<() => void>;
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

function statusFor(event: RetellCallEvent, reported: unknown): string {
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

const CALL_ACTION: Record<RetellCallEvent, string> = {
  call_started: 'STARTED',
  call_ended: 'ENDED',
  call_analyzed: 'ANALYSED',
};

/**
 * Applies call_started, call_ended or call_analyzed to the company's Call, upserted by Retell's
 * call id. Events may arrive in any order (a call that never connects has no call_started at all):
 * each field keeps the value from the latest stage seen, the status only moves forward, and an
 * earlier event arriving late fills in only what is still missing.
 */
export async function applyRetellCallEvent(
  ctx: RequestContext,
  event: RetellCallEvent,
  callPayload: unknown,
  route: RetellRouteData,
): Promise<EffectResult> {
  if (!isRecord(callPayload)) throw new PermanentWebhookError('Retell event without a call object');
  const retellCallId = str(callPayload.call_id);
  if (!retellCallId) throw new PermanentWebhookError('Retell event without call.call_id');
  const trx = await ctx.trx();
  const stage = STAGE[event];
  const direction = callPayload.direction === 'outbound' ? 'outbound' : 'inbound';
  const afterCommit: Array<() => void> = [];

  // Insert-or-nothing first, then lock the row: concurrent events of one call serialise here.
  const inserted: { id: string }[] = await trx('calls')
    .insert({
      company_id: ctx.requireCompanyId(),
      retell_call_id: retellCallId,
      direction,
      status: 'registered',
    })
    .onConflict(['company_id', 'retell_call_id'])
    .ignore()
    .returning('id');
  if (inserted.length > 0) {
    const { metrics } = ctx.deps;
    afterCommit.push(() => metrics.callsReceived.inc({ direction }));
  }
  const current = await Call.query(trx).findOne({ retell_call_id: retellCallId }).forUpdate();
  if (!current) throw new Error(`call ${retellCallId} vanished after upsert`);

  const retellMeta = isRecord(current.metadata?.retell) ? current.metadata.retell : {};
  const seenStage = typeof retellMeta.stage === 'number' ? retellMeta.stage : 0;
  const later = stage >= seenStage;
  const patch: Partial<Call> = {};

  for (const [key, value] of Object.entries(fieldsOf(callPayload)) as [
    keyof CallFields,
    unknown,
  ][]) {
    const existing = current[key];
    if ((existing === null || later) && !sameValue(existing, value)) {
      (patch as Record<string, unknown>)[key] = value;
    }
  }
  const status = statusFor(event, callPayload.call_status);
  const rankNow = STATUS_RANK[current.status] ?? 0;
  const rankNew = STATUS_RANK[status];
  if (status !== current.status && (rankNew > rankNow || (rankNew === rankNow && later))) {
    patch.status = status;
  }
  if (current.retellAgentId === null && route.retellAgentId)
    patch.retellAgentId = route.retellAgentId;
  if (current.phoneNumberId === null && route.phoneNumberId)
    patch.phoneNumberId = route.phoneNumberId;
  if (current.customerId === null) {
    const callerRaw = direction === 'outbound' ? callPayload.to_number : callPayload.from_number;
    const customer = await findCustomerByAnyPhone(ctx, trx, callerRaw);
    if (customer) patch.customerId = customer.id;
  }

  const analysis = isRecord(callPayload.call_analysis) ? callPayload.call_analysis : undefined;
  const nextMeta: Record<string, unknown> = {
    ...retellMeta,
    stage: Math.max(stage, seenStage),
    events: [...new Set([...(Array.isArray(retellMeta.events) ? retellMeta.events : []), event])],
  };
  if (later) {
    for (const [key, value] of [
      ['agentId', callPayload.agent_id],
      ['agentVersion', callPayload.agent_version],
      ['callType', callPayload.call_type],
      ['metadata', callPayload.metadata],
      ['inVoicemail', analysis?.in_voicemail],
      ['customAnalysisData', analysis?.custom_analysis_data],
    ] as const) {
      if (value !== undefined && value !== null) nextMeta[key] = value;
    }
  }
  const metadataChanged = JSON.stringify(nextMeta) !== JSON.stringify(retellMeta);
  if (metadataChanged) patch.metadata = { ...current.metadata, retell: nextMeta };

  if (Object.keys(patch).length > 0) {
    await Call.query(trx).findById(current.id).patch(patch);
  }
  if (Object.keys(patch).length > 0 || inserted.length > 0) {
    // The live "calls now" panel: published once this event's work committed.
    ctx.publishAfterCommit({ kind: 'call', action: CALL_ACTION[event], id: current.id });
  }
  return {
    outcome: 'processed',
    note: Object.keys(patch).length > 0 ? null : 'nothing new',
    afterCommit,
  };
}
