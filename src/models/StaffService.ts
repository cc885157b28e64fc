import { TenantModel } from './TenantModel';

export class StaffService extends TenantModel {
  static override tableName = 'staff_services';

  staffId!: string;
  serviceId!: string;
}
