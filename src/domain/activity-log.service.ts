import type { RequestContext } from '../context/request-context';
import { ActivityLog } from '../models';

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
