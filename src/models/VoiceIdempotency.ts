import { TenantModel } from './TenantModel';

/** The stored answer of a changing voice function, by call, function and argument hash. */
export class VoiceIdempotency extends TenantModel {
  static override tableName = 'voice_idempotency';
  static override jsonAttributes = ['response'];

  callId!: string;
  functionName!: string;
  argsHash!: string;
  response!: Record<string, unknown> | null;
}
