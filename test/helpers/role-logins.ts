import { Client } from 'pg';
import { ADMIN_URL } from './pg';

/** Any fixed key: the files that lend the roles a login take turns on it. */
const LOCK_KEY = 7_311_962_401;

export interface RoleLogins {
  release(): Promise<void>;
}

/**
 * Gives the roles a login for one test file and takes it back afterwards. Roles belong to the whole
 * cluster, and jest runs test files side by side, so the files that do this take turns through a
 * session advisory lock, held on a connection of its own until `release`: one file can never take
 * a login away while another still uses it.
 */
export async function lendLogins(roles: readonly string[]): Promise<RoleLogins> {
  const admin = new Client({ connectionString: ADMIN_URL });
  await admin.connect();
  let hadLogin: Record<string, boolean> = {};
  try {
    await admin.query('select pg_advisory_lock($1)', [LOCK_KEY]);
    const { rows } = await admin.query<{ rolname: string; rolcanlogin: boolean }>(
      'select rolname, rolcanlogin from pg_roles where rolname = any($1)',
      [roles],
    );
    hadLogin = Object.fromEntries(rows.map((r) => [r.rolname, r.rolcanlogin]));
    for (const role of roles) await admin.query(`alter role ${role} login`);
  } catch (err) {
    await admin.end();
    throw err;
  }
  return {
    release: async () => {
      try {
        for (const role of roles) {
          if (!hadLogin[role]) await admin.query(`alter role ${role} nologin`);
        }
      } finally {
        // Ending the session releases the advisory lock too.
        await admin.end();
      }
    },
  };
}
