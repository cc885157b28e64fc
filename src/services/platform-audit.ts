import { isUuid } from '../domain/ids';
import type { Knex } from 'knex';
import { AppError } from '../errors/app-error';

/**
 * The platform audit trail (table platform_audit_log): what platform admins did at platform level.
 * Only the platform caller role can read or write it, so every function here takes the platform
 * handle (`db.platform`) or a transaction opened on it, never the runtime role's knex.
 */
export interface PlatformAuditEntry {
  actorType: 'platform_admin' | 'system';
  actorId: string | null;
  /** What happened, e.g. platform_admin.create, platform.act_in_company. */
  action: string;
  targetCompanyId?: string | null;
  details?: Record<string, unknown>;
  requestId?: string | null;
  ip?: string | null;
}

export interface PlatformAuditRow {
  id: string;
  at: Date;
  actorType: string;
  actorId: string | null;
  action: string;
  targetCompanyId: string | null;
  details: Record<string, unknown>;
  requestId: string | null;
  ip: string | null;
}

export async function writePlatformAudit(platform: Knex, entry: PlatformAuditEntry): Promise<void> {
  await platform('platform_audit_log').insert({
    actor_type: entry.actorType,
    actor_id: entry.actorId,
    action: entry.action,
    target_company_id: entry.targetCompanyId ?? null,
    details: JSON.stringify(entry.details ?? {}),
    request_id: entry.requestId ?? null,
    ip: entry.ip ?? null,
  });
}

interface Cursor {
  at: string;
  id: string;
}

export function encodeAuditCursor(row: PlatformAuditRow): string {
  return Buffer.from(JSON.stringify({ at: row.at.toISOString(), id: row.id })).toString(
    'base64url',
  );
}

function decodeAuditCursor(value: string): Cursor {
  const invalid = () =>
    new AppError('BAD_USER_INPUT', 'after is not a valid cursor', { field: 'after' });
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  const c = parsed as Partial<Cursor> | null;
  if (
    !c ||
    typeof c.at !== 'string' ||
    typeof c.id !== 'string' ||
    !isUuid(c.id) ||
    !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(c.at) ||
    Number.isNaN(Date.parse(c.at))
  ) {
    throw invalid();
  }
  return { at: c.at, id: c.id };
}

/** A page of the trail, newest first (keyset on (at, id)); `size + 1` rows tell if more follow. */
export async function listPlatformAudit(
  platform: Knex,
  size: number,
  after: string | null | undefined,
): Promise<{ rows: PlatformAuditRow[]; hasNextPage: boolean }> {
  const q = platform('platform_audit_log')
    .select('*')
    .orderBy([
      { column: 'at', order: 'desc' },
      { column: 'id', order: 'desc' },
    ])
    .limit(size + 1);
  if (after) {
    const cursor = decodeAuditCursor(after);
    q.whereRaw('(at, id) < (?::timestamptz, ?::uuid)', [cursor.at, cursor.id]);
  }
  const found = (await q) as Array<Record<string, unknown>>;
  const hasNextPage = found.length > size;
  return {
    hasNextPage,
    rows: found.slice(0, size).map((r) => ({
      id: r.id as string,
      at: r.at as Date,
      actorType: r.actor_type as string,
      actorId: (r.actor_id as string | null) ?? null,
      action: r.action as string,
      targetCompanyId: (r.target_company_id as string | null) ?? null,
      details: (r.details as Record<string, unknown>) ?? {},
      requestId: (r.request_id as string | null) ?? null,
      ip: (r.ip as string | null) ?? null,
    })),
  };
}

export async function countPlatformAudit(platform: Knex): Promise<number> {
  const [row] = (await platform('platform_audit_log').count({ n: '*' })) as Array<{
    n: string | number;
  }>;
  return Number(row?.n ?? 0);
}
