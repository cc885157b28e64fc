import { TenantModel } from './TenantModel';

export class Staff extends TenantModel {
  static override tableName = 'staff';

  name!: string;
  email!: string | null;
  phoneE164!: string | null;
  color!: string | null;
  branchId!: string | null;
  archivedAt!: Date | null;
}
