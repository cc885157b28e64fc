import { TenantModel } from './TenantModel';

export class PolicyConfiguration extends TenantModel {
  static override tableName = 'policy_configurations';
  static override jsonAttributes = ['config'];

  policyType!: string;
  config!: Record<string, unknown>;
  active!: boolean;
  branchId!: string | null;
  serviceId!: string | null;
}
