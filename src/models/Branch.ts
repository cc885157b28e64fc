import { TenantModel } from './TenantModel';

export class Branch extends TenantModel {
  static override tableName = 'branches';

  name!: string;
  address!: string | null;
  phoneE164!: string | null;
  timezone!: string | null;
  archivedAt!: Date | null;
}
