import type { Knex } from 'knex';
import { actorId, actorType } from '../context/actor';
import type { RequestContext } from '../context/request-context';
import { ActivityLog } from '../models';
import type { AuditAction, SubjectType } from './audit';

/** Reading the activity log (written only through `ctx.audit`, with the vocabulary in audit.ts). */

export interface ActivityLogSearch {
  action?: string | null;
  subject?: { type: string; id: string } | null;
  createdFrom?: Date | null;
  createdTo?: Date | null;
}

/** The activity log query for a filter, for paging newest first. */
export async function activityLogQuery(ctx: RequestContext, filter: ActivityLogSearch) {
  const q = ActivityLog.query(await ctx.trx());
  if (filter.action) q.where('action', filter.action);
  if (filter.subject) q.where({ subject_type: filter.subject.type, subject_id: filter.subject.id });
  if (filter.createdFrom) q.where('activity_logs.created_at', '>=', filter.createdFrom);
  if (filter.createdTo) q.where('activity_logs.created_at', '<', filter.createdTo);
  return { query: q };
}

/**
 * Writes the request actor's activity entry in a transaction the caller holds (a platform
 * transaction bound to one company, for instance), where `ctx.audit`'s tenant transaction is not
 * the one doing the work. The entry commits or rolls back with that work.
 */
export async function recordActivityIn(
  ctx: RequestContext,
  trx: Knex.Transaction,
  entry: {
    action: AuditAction;
    subjectType: SubjectType;
    subjectId: string;
    details: Record<string, unknown>;
  },
): Promise<void> {
  await ActivityLog.query(trx).insert({
    actorType: actorType(ctx.actor),
    actorId: actorId(ctx.actor),
    action: entry.action,
    subjectType: entry.subjectType,
    subjectId: entry.subjectId,
    reason: null,
    details: entry.details,
    requestId: ctx.requestId,
    ip: ctx.ip ?? null,
  });
}
