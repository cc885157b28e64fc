import { TenantModel } from './TenantModel';

export class ServiceCategory extends TenantModel {
  static override tableName = 'service_categories';

  name!: string;
  description!: string | null;
  sortOrder!: number;
  archivedAt!: Date | null;
}
