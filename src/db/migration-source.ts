import type { Knex } from 'knex';
import * as extensionsAndRoles from '../../migrations/20261126000100_extensions_and_roles';
import * as companies from '../../migrations/20261126000200_companies_and_platform_admins';
import * as organisation from '../../migrations/20261126000300_organisation';
import * as usersAndAuth from '../../migrations/20261126000400_users_and_auth';
import * as customers from '../../migrations/20261126000500_customers';
import * as telephony from '../../migrations/20261126000600_telephony';
import * as appointments from '../../migrations/20261126000700_appointments';
import * as policiesAndCallbacks from '../../migrations/20261126000800_policies_and_callbacks';
import * as activityLogs from '../../migrations/20261126000900_activity_logs';
import * as platformFunctions from '../../migrations/20261126001000_platform_functions';
import * as platformAdminManagement from '../../migrations/20261126001100_platform_admin_management';
import * as webhooks from '../../migrations/20261126002000_webhooks';
import * as scheduling from '../../migrations/20261126003000_scheduling';
import * as observabilityFunctions from '../../migrations/20261126004000_observability_functions';
import * as customerNameIndexes from '../../migrations/20261126005000_customer_name_indexes';
import * as providerCredentials from '../../migrations/20261129000200_provider_credentials';
import * as webhookCredentialBinding from '../../migrations/20261129000210_webhook_credential_binding';
import * as platformTelephonyRegistry from '../../migrations/20261129000220_platform_telephony_registry';
import * as liveSessionChecks from '../../migrations/20261129000300_live_session_checks';
import * as platformClientRole from '../../migrations/20261129000500_1_platform_client_role';
import * as platformAuditLog from '../../migrations/20261129000500_2_platform_audit_log';
import * as webhookRejected from '../../migrations/20261129000600_webhook_rejected';
import * as companyApiPoints from '../../migrations/20261129000700_company_api_points';
import * as companyLifecycle from '../../migrations/20261129000800_company_lifecycle';
import * as lifecycleFunctions from '../../migrations/20261129000810_lifecycle_functions';
import * as voiceAgentSettings from '../../migrations/20261129000900_voice_agent_settings';
import * as voiceFunctionCalls from '../../migrations/20261129000910_voice_function_calls';
import * as voiceIdempotency from '../../migrations/20261129000920_voice_idempotency';
import * as webhookLeases from '../../migrations/20261129001300_webhook_leases';
import * as voiceAnswerRetention from '../../migrations/20261129001400_voice_answer_retention';
import * as webhookCompleteMany from '../../migrations/20261129002100_webhook_complete_many';
import * as sessionAccessStatus from '../../migrations/20261129002500_session_access_status';

interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/**
 * Every migration, in order, imported statically so the same list runs from TypeScript sources
 * (tests, knexfile) and from the compiled build without a file-system scan. A test checks that this
 * list and the files in migrations/ agree.
 */
export const MIGRATIONS: ReadonlyArray<readonly [string, Migration]> = [
  ['20261126000100_extensions_and_roles', extensionsAndRoles],
  ['20261126000200_companies_and_platform_admins', companies],
  ['20261126000300_organisation', organisation],
  ['20261126000400_users_and_auth', usersAndAuth],
  ['20261126000500_customers', customers],
  ['20261126000600_telephony', telephony],
  ['20261126000700_appointments', appointments],
  ['20261126000800_policies_and_callbacks', policiesAndCallbacks],
  ['20261126000900_activity_logs', activityLogs],
  ['20261126001000_platform_functions', platformFunctions],
  ['20261126001100_platform_admin_management', platformAdminManagement],
  ['20261126002000_webhooks', webhooks],
  ['20261126003000_scheduling', scheduling],
  ['20261126004000_observability_functions', observabilityFunctions],
  ['20261126005000_customer_name_indexes', customerNameIndexes],
  ['20261129000200_provider_credentials', providerCredentials],
  ['20261129000210_webhook_credential_binding', webhookCredentialBinding],
  ['20261129000220_platform_telephony_registry', platformTelephonyRegistry],
  ['20261129000300_live_session_checks', liveSessionChecks],
  ['20261129000500_1_platform_client_role', platformClientRole],
  ['20261129000500_2_platform_audit_log', platformAuditLog],
  ['20261129000600_webhook_rejected', webhookRejected],
  ['20261129000700_company_api_points', companyApiPoints],
  ['20261129000800_company_lifecycle', companyLifecycle],
  ['20261129000810_lifecycle_functions', lifecycleFunctions],
  ['20261129000900_voice_agent_settings', voiceAgentSettings],
  ['20261129000910_voice_function_calls', voiceFunctionCalls],
  ['20261129000920_voice_idempotency', voiceIdempotency],
  ['20261129001300_webhook_leases', webhookLeases],
  ['20261129001400_voice_answer_retention', voiceAnswerRetention],
  ['20261129002100_webhook_complete_many', webhookCompleteMany],
  ['20261129002500_session_access_status', sessionAccessStatus],
];

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => MIGRATIONS.map(([name]) => name),
  getMigrationName: (name) => name,
  getMigration: async (name) => {
    const found = MIGRATIONS.find(([n]) => n === name);
    if (!found) throw new Error(`unknown migration ${name}`);
    return found[1];
  },
};

export const MIGRATION_CONFIG: Knex.MigratorConfig = {
  migrationSource,
  tableName: 'knex_migrations',
};
