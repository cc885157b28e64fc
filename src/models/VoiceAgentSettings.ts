import { TenantModel } from './TenantModel';

/** A company's voice-agent settings: language and the hash of its optional bearer secret. */
export class VoiceAgentSettings extends TenantModel {
  static override tableName = 'voice_agent_settings';

  language!: 'de' | 'en' | null;
  secretHash!: string | null;
  previousSecretHash!: string | null;
  previousValidUntil!: Date | null;
  secretRotatedAt!: Date | null;
}
