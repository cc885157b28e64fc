import type { RequestContext } from '../context/request-context';
import type { Knex } from 'knex';
import { Call } from '../models';
import { findCustomerByAnyPhone } from '../domain/customers/customer.service';
import {
  applyRetellCallEvents,
  callerNumberOf,
  directionOf,
  planRetellCallPatch,
  retellCallIdOf,
} from '../domain/calls/retell-call-events';
import { isRecord } from './envelope';
import { PermanentWebhookError } from './errors';
import type { RetellRouteData } from './routing';

export const RETELL_CALL_EVENTS = ['call_started', 'call_ended', 'call_analyzed'] as const;
export type RetellCallEvent = (typeof RETELL_CALL_EVENTS)[number];

export function isRetellCallEvent(event: string): event is RetellCallEvent {
  return (RETELL_CALL_EVENTS as readonly string[]).includes(event);
}

export interface EffectResult {
  outcome: 'processed' | 'ignored';
  note?: string | null;
  /** Counters to bump once the transaction has committed. */
  afterCommit: Array<() => void>;
}

/**
 * Checks what a Retell call event must carry before anything is written: a call object with a
 * call id. Throws the permanent error the event fails with.
 */
export function retellCallOf(callPayload: unknown): Record<string, unknown> {
  if (!isRecord(callPayload)) throw new PermanentWebhookError('Retell event without a call object');
  if (!retellCallIdOf(callPayload)) {
    throw new PermanentWebhookError('Retell event without call.call_id');
  }
  return callPayload;
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
  const call = retellCallOf(callPayload);
  const retellCallId = retellCallIdOf(call)!;
  const trx = await ctx.trx();
  const direction = directionOf(call);
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

  const patch: Partial<Call> = planRetellCallPatch(current, event, call, route);
  if (current.customerId === null) {
    const customer = await findCustomerByAnyPhone(ctx, trx, callerNumberOf(call));
    if (customer) patch.customerId = customer.id;
  }

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

/** One checked Retell call event of a group (see `retellCallOf`). */
export interface RetellCallItem {
  event: RetellCallEvent;
  call: Record<string, unknown>;
  route: RetellRouteData;
}

/**
 * Applies a group of one company's Retell call events in the tenant transaction `trx` with a fixed
 * number of statements (see `applyRetellCallEvents`), in the order given; returns each event's
 * effect, in the same order. All or nothing: a failure throws and nothing of the group stands.
 */
export async function applyRetellCallGroup(
  ctx: RequestContext,
  trx: Knex.Transaction,
  items: RetellCallItem[],
): Promise<EffectResult[]> {
  const applied = await applyRetellCallEvents(ctx, trx, items);
  const { metrics } = ctx.deps;
  return applied.map((a, n) => {
    const afterCommit: Array<() => void> = [];
    if (a.inserted) afterCommit.push(() => metrics.callsReceived.inc({ direction: a.direction }));
    if (a.changed || a.inserted) {
      // The live "calls now" panel: published once the group's work committed.
      ctx.publishAfterCommit({ kind: 'call', action: CALL_ACTION[items[n].event], id: a.callId });
    }
    return { outcome: 'processed', note: a.changed ? null : 'nothing new', afterCommit };
  });
}
