import { TenantModel } from './TenantModel';

export class CustomerNote extends TenantModel {
  static override tableName = 'customer_notes';

  customerId!: string;
  authorUserId!: string | null;
  body!: string;
}
