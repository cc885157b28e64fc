import { TenantModel } from './TenantModel';

export class RetellAgent extends TenantModel {
  static override tableName = 'retell_agents';

  agentId!: string;
  name!: string;
  active!: boolean;
  branchId!: string | null;
}
