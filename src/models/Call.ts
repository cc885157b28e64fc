import { TenantModel } from './TenantModel';

export class Call extends TenantModel {
  static override tableName = 'calls';
  static override jsonAttributes = ['metadata'];

  retellCallId!: string;
  direction!: string;
  status!: string;
  fromNumber!: string | null;
  toNumber!: string | null;
  startedAt!: Date | null;
  endedAt!: Date | null;
  durationMs!: number | null;
  transcript!: string | null;
  summary!: string | null;
  sentiment!: string | null;
  callSuccessful!: boolean | null;
  disconnectionReason!: string | null;
  recordingUrl!: string | null;
  costCents!: number | null;
  outcome!: string | null;
  metadata!: Record<string, unknown>;
  phoneNumberId!: string | null;
  retellAgentId!: string | null;
  customerId!: string | null;
}
