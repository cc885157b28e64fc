import { BaseModel } from './BaseModel';

/**
 * A row of the inbound webhook inbox. Not tenant-owned (an event is stored before its company is
 * known), so it has no tenant query builder: the runtime role can only read it, and row level
 * security shows only the rows resolved to the transaction's tenant. Writes and cross-company
 * reads go through the webhook_* and platform_webhook_* database functions.
 */
export class WebhookEvent extends BaseModel {
  static override tableName = 'webhook_events';
  static override jsonAttributes = ['payload', 'headers'];

  id!: string;
  provider!: 'retell' | 'calcom';
  eventType!: string;
  dedupeKey!: string;
  payloadRaw!: string;
  payload!: unknown;
  headers!: Record<string, string>;
  sourceIp!: string | null;
  requestId!: string | null;
  receivedAt!: Date;
  status!: 'pending' | 'processing' | 'processed' | 'ignored' | 'unroutable' | 'failed' | 'dead';
  attempts!: number;
  nextAttemptAt!: Date;
  lastError!: string | null;
  processedAt!: Date | null;
  lockedUntil!: Date | null;
  lockedBy!: string | null;
  resolvedCompanyId!: string | null;
  replayCount!: number;
  lastReplayedAt!: Date | null;
  lastReplayedBy!: string | null;
  updatedAt!: Date;
}
