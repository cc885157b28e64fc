import { AUDIT, SUBJECT } from '../domain/audit';
import { translateDbError } from '../db/errors';
import type { RequestContext } from '../context/request-context';
import { AppError } from '../errors/app-error';
import { CallbackRequest, Customer, Staff } from '../models';
import { checkTimeWindow, parseInstant } from './support';
import { badInput, notFound } from '../errors/app-error';
import { companySettings } from '../domain/companies/company-settings';
import { normalisePhone } from '../domain/phone';
import { optionalId, requireId } from '../domain/ids';
import { optionalText } from '../domain/text';
import { MINUTE_MS } from './time';

/**
 * Callback requests: callers the voice agent could not help (no suitable time, a question for a
 * person) ask to be called back. Their life cycle:
 *
 *   pending ──assign──▶ assigned ──assign──▶ assigned (handed to someone else)
 *   pending | assigned ──contact──▶ contacted
 *   contacted ──complete──▶ done
 *   pending | assigned | contacted ──expire──▶ expired
 *
 * done and expired are final. due_at follows from the priority; a pending or assigned request past
 * its due time is overdue.
 */

export const CALLBACK_PRIORITIES = ['low', 'normal', 'high', 'urgent'] as const;
export type CallbackPriority = (typeof CALLBACK_PRIORITIES)[number];

export const CALLBACK_STATUSES = ['pending', 'assigned', 'contacted', 'done', 'expired'] as const;
export type CallbackStatus = (typeof CALLBACK_STATUSES)[number];

/** How soon a request of each priority is due. */
export const CALLBACK_DUE_MINUTES: Readonly<Record<CallbackPriority, number>> = {
  urgent: 15,
  high: 60,
  normal: 4 * 60,
  low: 24 * 60,
};

export const CALLBACK_ACTIONS = ['assign', 'contact', 'complete', 'expire'] as const;
export type CallbackAction = (typeof CALLBACK_ACTIONS)[number];

export const CALLBACK_TRANSITIONS: Readonly<
  Record<CallbackAction, { from: readonly CallbackStatus[]; to: CallbackStatus; verb: string }>
> = {
  assign: { from: ['pending', 'assigned'], to: 'assigned', verb: 'assigned' },
  contact: { from: ['pending', 'assigned'], to: 'contacted', verb: 'marked as contacted' },
  complete: { from: ['contacted'], to: 'done', verb: 'completed' },
  expire: { from: ['pending', 'assigned', 'contacted'], to: 'expired', verb: 'expired' },
};

/** The status after `action`, or BAD_USER_INPUT on `id` naming the current status. */
export function nextCallbackStatus(
  current: CallbackStatus,
  action: CallbackAction,
): CallbackStatus {
  const rule = CALLBACK_TRANSITIONS[action];
  if (!rule.from.includes(current)) {
    throw new AppError(
      'BAD_USER_INPUT',
      `The callback request is ${current}, so it cannot be ${rule.verb}`,
      {
        field: 'id',
        details: {
          reason: 'INVALID_TRANSITION',
          currentStatus: current,
          action,
          allowed: CALLBACK_ACTIONS.filter((a) => CALLBACK_TRANSITIONS[a].from.includes(current)),
        },
      },
    );
  }
  return rule.to;
}

/** A preferred time: free words the caller used, or a window. */
export type PreferredTime = string | { from: Date | string; to: Date | string };

export interface CreateCallbackRequestInput {
  phone: string;
  name?: string | null;
  reason?: string | null;
  preferredTimes?: PreferredTime[] | null;
  priority?: CallbackPriority | null;
  callId?: string | null;
  /** Omitted: the customer with this phone number, if there is one. */
  customerId?: string | null;
  now?: Date;
}

const CALLBACK_FKS = {
  callback_requests_call_id_fkey: 'callId',
  callback_requests_customer_id_fkey: 'customerId',
  callback_requests_assigned_staff_id_fkey: 'staffId',
};

function preferredTimes(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw badInput('preferredTimes', 'preferredTimes must be a list');
  if (value.length > 10)
    throw badInput('preferredTimes', 'preferredTimes can hold at most 10 entries');
  return value.map((entry: unknown, i) => {
    const field = `preferredTimes.${i}`;
    if (typeof entry === 'string') {
      const text = optionalText(entry, field, 200) ?? null;
      if (!text) throw badInput(field, `${field} is empty`);
      return text;
    }
    if (entry && typeof entry === 'object' && 'from' in entry && 'to' in entry) {
      const from = parseInstant((entry as { from: unknown }).from, `${field}.from`);
      const to = parseInstant((entry as { to: unknown }).to, `${field}.to`);
      if (to.getTime() <= from.getTime())
        throw badInput(`${field}.to`, `${field}.to must be after from`);
      checkTimeWindow(field, from, to, new Date());
      return { from: from.toISOString(), to: to.toISOString() };
    }
    throw badInput(field, `${field} must be text or a window { from, to }`);
  });
}

async function audit(
  ctx: RequestContext,
  action: keyof typeof AUDIT.callbackRequest,
  id: string,
  details: Record<string, unknown>,
  reason: string | null = null,
) {
  await ctx.audit({
    action: AUDIT.callbackRequest[action],
    subjectType: SUBJECT.callbackRequest,
    subjectId: id,
    reason,
    details,
  });
}

/** Records a request to be called back, due according to its priority. */
export async function createCallbackRequest(
  ctx: RequestContext,
  input: CreateCallbackRequestInput,
): Promise<CallbackRequest> {
  const priority = input.priority ?? 'normal';
  if (!(CALLBACK_PRIORITIES as readonly string[]).includes(priority)) {
    throw badInput('priority', `priority must be one of ${CALLBACK_PRIORITIES.join(', ')}`);
  }
  const name = optionalText(input.name, 'name', 200) ?? null;
  const reason = optionalText(input.reason, 'reason', 2000) ?? null;
  const times = preferredTimes(input.preferredTimes);
  const callId = optionalId(input.callId, 'callId', 'Call');
  let customerId = optionalId(input.customerId, 'customerId', 'Customer');
  const now = input.now ?? new Date();
  const trx = await ctx.trx();
  const company = await companySettings(ctx, trx);
  const phoneE164 = normalisePhone(input.phone, company.defaultRegion, 'phone');
  if (customerId) {
    if (!(await Customer.query(trx).findById(customerId).select('id'))) {
      throw notFound('Customer', 'customerId');
    }
  } else {
    const known = await Customer.query(trx).where('phone_e164', phoneE164).select('id').first();
    customerId = known?.id ?? null;
  }
  return ctx.unitOfWork(async (inner) => {
    try {
      const row = await CallbackRequest.query(inner)
        .insert({
          phoneE164,
          name,
          reason,
          preferredTimes: times,
          priority,
          status: 'pending',
          dueAt: new Date(now.getTime() + CALLBACK_DUE_MINUTES[priority] * MINUTE_MS),
          customerId,
          callId,
        })
        .returning('*');
      await audit(ctx, 'created', row.id, { priority, dueAt: row.dueAt, customerId, callId });
      return row;
    } catch (err) {
      translateDbError(err, CALLBACK_FKS);
    }
  });
}

const AUDIT_ACTION: Record<CallbackAction, keyof typeof AUDIT.callbackRequest> = {
  assign: 'assigned',
  contact: 'contacted',
  complete: 'completed',
  expire: 'expired',
};

async function transition(
  ctx: RequestContext,
  rawId: string,
  action: CallbackAction,
  patch: (
    row: CallbackRequest,
    to: CallbackStatus,
  ) => Promise<Partial<CallbackRequest>> | Partial<CallbackRequest>,
  details: Record<string, unknown> = {},
  reason: string | null = null,
): Promise<CallbackRequest> {
  const id = requireId(rawId, 'id', 'Callback request');
  return ctx.unitOfWork(async (trx) => {
    const row = await CallbackRequest.query(trx).findById(id).forUpdate();
    if (!row) throw notFound('Callback request', 'id');
    const from = row.status;
    const to = nextCallbackStatus(from as CallbackStatus, action);
    try {
      const updated = await row
        .$query(trx)
        .patchAndFetch({ ...(await patch(row, to)), status: to });
      await audit(ctx, AUDIT_ACTION[action], id, { from, to, ...details }, reason);
      return updated;
    } catch (err) {
      translateDbError(err, CALLBACK_FKS);
    }
  });
}

/** pending | assigned -> assigned to a staff member. */
export async function assignCallbackRequest(
  ctx: RequestContext,
  id: string,
  input: { staffId: string },
): Promise<CallbackRequest> {
  const staffId = requireId(input.staffId, 'staffId', 'Staff member');
  const trx = await ctx.trx();
  const staff = await Staff.query(trx).findById(staffId).select('id', 'name', 'archived_at');
  if (!staff) throw notFound('Staff member', 'staffId');
  if (staff.archivedAt) throw badInput('staffId', `${staff.name} is no longer active`);
  return transition(ctx, id, 'assign', () => ({ assignedStaffId: staffId }), { staffId });
}

/** pending | assigned -> contacted: someone has spoken to the caller. */
export async function markCallbackContacted(
  ctx: RequestContext,
  id: string,
  input: { note?: string | null; now?: Date } = {},
): Promise<CallbackRequest> {
  const note = optionalText(input.note, 'note', 2000) ?? null;
  const now = input.now ?? new Date();
  return transition(
    ctx,
    id,
    'contact',
    () => ({ contactedAt: now }),
    { at: now.toISOString() },
    note,
  );
}

/** contacted -> done, with what came of it. */
export async function completeCallbackRequest(
  ctx: RequestContext,
  id: string,
  input: { resolution?: string | null; now?: Date } = {},
): Promise<CallbackRequest> {
  const resolution = optionalText(input.resolution, 'resolution', 2000) ?? null;
  const now = input.now ?? new Date();
  return transition(
    ctx,
    id,
    'complete',
    () => ({ completedAt: now, resolution }),
    { at: now.toISOString() },
    resolution,
  );
}

/** pending | assigned | contacted -> expired: no longer worth calling back. */
export async function expireCallbackRequest(
  ctx: RequestContext,
  id: string,
  input: { reason?: string | null; now?: Date } = {},
): Promise<CallbackRequest> {
  const reason = optionalText(input.reason, 'reason', 500) ?? null;
  const now = input.now ?? new Date();
  return transition(
    ctx,
    id,
    'expire',
    () => ({ completedAt: now, resolution: reason ?? 'expired' }),
    { at: now.toISOString() },
    reason,
  );
}

/** Pending or assigned requests past their due time, most urgent and oldest first. */
export async function listOverdueCallbackRequests(
  ctx: RequestContext,
  now: Date = new Date(),
  options: { limit?: number } = {},
): Promise<CallbackRequest[]> {
  const limit = options.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
    throw badInput('limit', 'limit must be a whole number from 1 to 500');
  }
  const trx = await ctx.trx();
  return CallbackRequest.query(trx)
    .whereIn('status', ['pending', 'assigned'])
    .where('due_at', '<', now)
    .orderByRaw(
      `case priority when 'urgent' then 0 when 'high' then 1 when 'normal' then 2 else 3 end, due_at, id`,
    )
    .limit(limit);
}
