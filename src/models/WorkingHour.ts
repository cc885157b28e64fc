import { TenantModel } from './TenantModel';

export class WorkingHour extends TenantModel {
  static override tableName = 'working_hours';

  staffId!: string;
  branchId!: string | null;
  weekday!: number;
  startsAt!: string;
  endsAt!: string;
  validFrom!: string | null;
  validUntil!: string | null;
}
