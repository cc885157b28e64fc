import { TenantModel } from './TenantModel';

/** One function the voice agent called during a call (append-only log). */
export class VoiceFunctionCall extends TenantModel {
  static override tableName = 'voice_function_calls';

  callId!: string;
  functionName!: string;
  outcome!: 'ok' | 'refused' | 'invalid' | 'limited' | 'error';
  errorCode!: string | null;
  latencyMs!: number;
  replayed!: boolean;
  requestId!: string | null;
}
