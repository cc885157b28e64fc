import { TenantModel } from './TenantModel';

export class TimeOff extends TenantModel {
  static override tableName = 'time_off';

  staffId!: string;
  startsAt!: Date;
  endsAt!: Date;
  reason!: string | null;
}
