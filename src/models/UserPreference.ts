import { TenantModel } from './TenantModel';

export class UserPreference extends TenantModel {
  static override tableName = 'user_preferences';
  static override jsonAttributes = ['notifications', 'ui'];

  userId!: string;
  locale!: string;
  timezone!: string | null;
  notifications!: Record<string, unknown>;
  ui!: Record<string, unknown>;
}
