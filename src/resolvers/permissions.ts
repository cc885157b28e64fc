import type { IRuleTypeMap } from 'graphql-shield/typings/types';
import { mergeRules } from '../graphql/shield-rules';
import { commonRules } from './common.rules';
import { nodeRules } from './node.rules';
import { authRules } from './auth.rules';
import { userRules } from './user.rules';
import { companyRules } from './company.rules';
import { companyLifecycleRules } from './company-lifecycle.rules';
import { platformAuditRules } from './platform-audit.rules';
import { branchRules } from './branch.rules';
import { staffRules } from './staff.rules';
import { serviceRules } from './service.rules';
import { customerRules } from './customer.rules';
import { appointmentRules } from './appointment.rules';
import { schedulingRules } from './scheduling.rules';
import { callRules } from './call.rules';
import { callbackRequestRules } from './callback-request.rules';
import { policyRules } from './policy.rules';
import { activityLogRules } from './activity-log.rules';
import { dashboardRules } from './dashboard.rules';
import { webhookEventRules } from './webhook-event.rules';
import { providerCredentialRules } from './provider-credential.rules';
import { rateLimitRules } from './rate-limit.rules';
import { privacyRules } from './privacy.rules';
import { liveRules } from './live.rules';
import { voiceAgentRules } from './voice-agent.rules';

/**
 * The permission of every field, merged from the fragments that live beside each resolver
 * (`<feature>.rules.ts`, next to `<feature>.ts`). The fallback rule is deny, so a field missing
 * from every fragment can never resolve; test/graphql/permissions.test.ts walks the built schema
 * and fails for any field without an entry. Object fields are `allow` when the list or mutation
 * that reaches them already decided access; a relation that crosses into another resource carries
 * that resource's read rule. Who may do what per resource (roles, API token scopes) is in
 * src/auth/access.ts; the rule builders are in src/graphql/shield-rules.ts.
 *
 * A new feature: write `src/resolvers/<feature>.rules.ts` exporting `<feature>Rules`, import it
 * above and add it at the end of this list. A field that two fragments name throws at start-up.
 */
export const PERMISSIONS: IRuleTypeMap = mergeRules(
  commonRules,
  nodeRules,
  authRules,
  userRules,
  companyRules,
  companyLifecycleRules,
  platformAuditRules,
  branchRules,
  staffRules,
  serviceRules,
  customerRules,
  appointmentRules,
  schedulingRules,
  callRules,
  callbackRequestRules,
  policyRules,
  activityLogRules,
  dashboardRules,
  webhookEventRules,
  providerCredentialRules,
  rateLimitRules,
  privacyRules,
  voiceAgentRules,
  liveRules,
  // New fragments go here, one line each.
);
