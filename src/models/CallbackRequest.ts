import { TenantModel } from './TenantModel';

export class CallbackRequest extends TenantModel {
  static override tableName = 'callback_requests';
  static override jsonAttributes = ['preferredTimes'];

  phoneE164!: string;
  name!: string | null;
  reason!: string | null;
  preferredTimes!: unknown[];
  priority!: string;
  status!: string;
  dueAt!: Date;
  contactedAt!: Date | null;
  completedAt!: Date | null;
  resolution!: string | null;
  customerId!: string | null;
  callId!: string | null;
  assignedStaffId!: string | null;
}
