import { TenantModel } from './TenantModel';

export class Service extends TenantModel {
  static override tableName = 'services';

  name!: string;
  description!: string | null;
  durationMinutes!: number;
  bufferMinutes!: number;
  priceCents!: number;
  currency!: string;
  categoryId!: string | null;
  branchId!: string | null;
  archivedAt!: Date | null;
}
