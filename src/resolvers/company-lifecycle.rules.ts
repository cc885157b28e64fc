import type { IRuleTypeMap } from 'graphql-shield/typings/types';
import { allow, allowFields, read, superAdmin, write } from '../graphql/shield-rules';

/**
 * Who may use these fields: company life cycle: onboarding, suspension and offboarding are
 * platform operations; invitations follow user management. Registered in ./permissions.ts.
 */
export const companyLifecycleRules: IRuleTypeMap = {
  Query: {
    companyLifecycle: read('company'),
  },
  Mutation: {
    createCompany: superAdmin,
    suspendCompany: superAdmin,
    reactivateCompany: superAdmin,
    offboardCompany: superAdmin,
    inviteUser: write('users'),
    acceptInvitation: allow,
    updateRetention: write('company'),
  },
  CompanyLifecycle: allowFields([
    'id',
    'slug',
    'locale',
    'suspendedAt',
    'transcriptRetentionDays',
    'recordingRetentionDays',
  ]),
  Invitation: allowFields(['id', 'email', 'roles', 'expiresAt', 'token']),
  CompanyOnboarding: allowFields(['company', 'invitation']),
  OffboardingFile: allowFields(['table', 'file', 'rows', 'sha256']),
  OffboardingReport: allowFields([
    'companyId',
    'slug',
    'directory',
    'manifestSha256',
    'deletedRows',
    'files',
  ]),
};
