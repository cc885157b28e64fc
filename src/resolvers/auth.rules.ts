import type { IRuleTypeMap } from 'graphql-shield/typings/types';
import { allow, allowFields, companyUser, signedIn } from '../graphql/shield-rules';

/**
 * Who may use these fields: sign-in, refresh, sign-out and password change. Registered in
 * ./permissions.ts.
 */
export const authRules: IRuleTypeMap = {
  Mutation: {
    login: allow,
    refreshToken: allow,
    logout: signedIn,
    changePassword: companyUser, // the service refuses API tokens and platform admins too
  },
  AuthPayload: allowFields([
    'accessToken',
    'accessTokenExpiresAt',
    'refreshToken',
    'refreshTokenExpiresAt',
  ]),
  PasswordChange: allowFields(['revokedSessions']),
};
