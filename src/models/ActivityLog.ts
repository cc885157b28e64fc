import { TenantModel } from './TenantModel';

export class ActivityLog extends TenantModel {
  static override tableName = 'activity_logs';
  static override jsonAttributes = ['details'];

  actorType!: string;
  actorId!: string | null;
  action!: string;
  subjectType!: string | null;
  subjectId!: string | null;
  reason!: string | null;
  details!: Record<string, unknown>;
  requestId!: string | null;
  ip!: string | null;
}
