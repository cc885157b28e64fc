import { TenantModel } from './TenantModel';

export class ApiToken extends TenantModel {
  static override tableName = 'api_tokens';

  name!: string;
  tokenPrefix!: string;
  tokenHash!: string;
  scopes!: string[];
  expiresAt!: Date | null;
  revokedAt!: Date | null;
  lastUsedAt!: Date | null;
  createdByUserId!: string | null;
}
