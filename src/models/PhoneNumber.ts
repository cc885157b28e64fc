import { TenantModel } from './TenantModel';

export class PhoneNumber extends TenantModel {
  static override tableName = 'phone_numbers';

  numberE164!: string;
  label!: string | null;
  active!: boolean;
  branchId!: string | null;
  retellAgentId!: string | null;
}
