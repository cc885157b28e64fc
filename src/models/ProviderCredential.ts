import { TenantModel } from './TenantModel';

/**
 * A Cal.com webhook or a Retell account registered for one company. The secret columns hold only
 * sealed values (see src/security/credential-crypto.ts) and are never exposed by the API.
 */
export class ProviderCredential extends TenantModel {
  static override tableName = 'provider_credentials';

  provider!: 'calcom' | 'retell';
  label!: string;
  secretKeyId!: string;
  secretCiphertext!: Buffer;
  previousSecretKeyId!: string | null;
  previousSecretCiphertext!: Buffer | null;
  previousValidUntil!: Date | null;
  rotatedAt!: Date | null;
  revokedAt!: Date | null;
  lastUsedAt!: Date | null;
  createdBy!: string | null;
}
