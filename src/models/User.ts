import { TenantModel } from './TenantModel';

export class User extends TenantModel {
  static override tableName = 'users';

  email!: string;
  name!: string;
  passwordHash!: string;
  roles!: string[];
  staffId!: string | null;
  disabledAt!: Date | null;
  lastLoginAt!: Date | null;
}
