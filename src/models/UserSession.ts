import { TenantModel } from './TenantModel';

export class UserSession extends TenantModel {
  static override tableName = 'user_sessions';

  userId!: string;
  familyId!: string;
  tokenHash!: string;
  expiresAt!: Date;
  rotatedAt!: Date | null;
  revokedAt!: Date | null;
  userAgent!: string | null;
  ip!: string | null;
}
