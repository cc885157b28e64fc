import { TenantModel } from './TenantModel';

/** A Cal.com team member (by Cal.com user id or email) and the staff member they are. */
export class CalcomTeamMember extends TenantModel {
  static override tableName = 'calcom_team_members';

  calcomUserId!: number | null;
  email!: string | null;
  staffId!: string;
}
