import { TenantModel } from './TenantModel';

export class Customer extends TenantModel {
  static override tableName = 'customers';

  name!: string;
  phoneE164!: string | null;
  email!: string | null;
  preferredLanguage!: string | null;
  archivedAt!: Date | null;
}
