import { TenantModel } from './TenantModel';

/** A Cal.com event type and the service it books, optionally with a fixed staff member or branch. */
export class TeamEventTypeMapping extends TenantModel {
  static override tableName = 'team_event_type_mappings';

  calcomEventTypeId!: number;
  label!: string | null;
  serviceId!: string;
  staffId!: string | null;
  branchId!: string | null;
}
