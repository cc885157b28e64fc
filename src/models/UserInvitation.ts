import { TenantModel } from './TenantModel';

/** A single-use invitation to join a company; only the SHA-256 of its token is stored. */
export class UserInvitation extends TenantModel {
  static override tableName = 'user_invitations';

  email!: string;
  roles!: string[];
  tokenHash!: string;
  expiresAt!: Date;
  acceptedAt!: Date | null;
  acceptedUserId!: string | null;
  revokedAt!: Date | null;
  invitedByType!: 'user' | 'platform_admin';
  invitedById!: string | null;
}
