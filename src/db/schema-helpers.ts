/**
 * Database role names the running application needs. The helpers that build tenant tables live
 * with the migrations that used them (migrations/lib/v1.ts, frozen), so editing anything here
 * can never change what an old migration does.
 */

export const RUNTIME_ROLE = 'app_runtime';
/**
 * The only role that may execute the SECURITY DEFINER functions; `db.platform` runs as it. A member
 * of app_runtime (same table privileges, same row level security), never the other way round.
 */
export const PLATFORM_CLIENT_ROLE = 'app_platform_client';
