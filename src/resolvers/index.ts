import type { NonEmptyArray } from 'type-graphql';
import { ActivityLogResolver } from './activity-log';
import { AppointmentResolver } from './appointment';
import { AuthResolver } from './auth';
import { BranchResolver } from './branch';
import { CallbackRequestResolver } from './callback-request';
import { CallResolver, PhoneNumberResolver } from './call';
import { CompanyResolver } from './company';
import { CustomerNoteResolver, CustomerResolver } from './customer';
import { DashboardResolver } from './dashboard';
import { NodeResolver } from './node';
import { PlatformAuditResolver } from './platform-audit';
import { PolicyResolver } from './policy';
import { ProviderCredentialResolver, RetellAgentResolver } from './provider-credential';
import { ServiceResolver } from './service';
import { StaffResolver, WorkingHourResolver } from './staff';
import { UserResolver } from './user';
import { SchedulingResolver } from './scheduling';
import { WebhookEventResolver } from './webhook-event';
import { RateLimitResolver } from './rate-limit';
import { CompanyLifecycleResolver } from './company-lifecycle';
import { PrivacyResolver } from './privacy';
import { VoiceAgentResolver } from './voice-agent';
import { LiveResolver } from './live';

/** Every resolver class of the schema. */
// type-graphql takes resolver classes as plain Function values.
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export const RESOLVERS: NonEmptyArray<Function> = [
  NodeResolver,
  AuthResolver,
  UserResolver,
  CompanyResolver,
  BranchResolver,
  StaffResolver,
  WorkingHourResolver,
  ServiceResolver,
  CustomerResolver,
  CustomerNoteResolver,
  AppointmentResolver,
  CallResolver,
  PhoneNumberResolver,
  CallbackRequestResolver,
  PolicyResolver,
  ActivityLogResolver,
  DashboardResolver,
  SchedulingResolver,
  WebhookEventResolver,
  ProviderCredentialResolver,
  RetellAgentResolver,
  PlatformAuditResolver,
  RateLimitResolver,
  CompanyLifecycleResolver,
  PrivacyResolver,
  VoiceAgentResolver,
  LiveResolver,
];
