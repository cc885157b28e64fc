import type { AuditAction, SubjectType } from '../domain/audit';
import { TenantModel } from './TenantModel';

export class ActivityLog extends TenantModel {
  static override tableName = 'activity_logs';
  static override jsonAttributes = ['details'];

  actorType!: string;
  actorId!: string | null;
  /** Written only from the vocabulary in src/domain/audit.ts; older rows may hold other strings. */
  action!: AuditAction;
  subjectType!: SubjectType | null;
  subjectId!: string | null;
  reason!: string | null;
  details!: Record<string, unknown>;
  requestId!: string | null;
  ip!: string | null;
}
