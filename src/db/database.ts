import path from 'node:path';
import { mkdirSync } from 'node:fs';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';

// Calendar dates (working-hour validity, for example) stay 'YYYY-MM-DD' strings: turning them into
// JavaScript Dates would shift them by the server's time zone.
const DATE_OID = 1082;
pg.types.setTypeParser(DATE_OID, (value: string) => value);
import { MIGRATION_CONFIG } from './migration-source';
import { PLATFORM_CLIENT_ROLE, RUNTIME_ROLE } from './schema-helpers';
import { createReplicaKnex } from './replica';

export type DatabaseKind = 'postgres' | 'pglite';

export interface DatabaseOptions {
  /** Postgres connection string of the schema owner (runs migrations). Without it: embedded PGlite. */
  url?: string;
  /** Optional separate login for the runtime role; otherwise the owner's connections `SET ROLE`. */
  runtimeUrl?: string;
  /**
   * Optional separate login for the platform caller role (app_platform_client); otherwise a small
   * pool of the owner's connections `SET ROLE` to it.
   */
  platformUrl?: string;
  /**
   * Optional login of the runtime role itself on a streaming read replica of `url`: the pool that
   * read-only GraphQL queries use while the replica is close enough (src/db/replica.ts).
   */
  replicaUrl?: string;
  /** PGlite data folder, or 'memory' for an in-memory database. */
  pgliteDataDir?: string;
  poolMax?: number;
}

/**
 * A database handle. `knex` runs as the runtime role (subject to row level security) and is what
 * tenant requests use; it can execute none of the SECURITY DEFINER functions. `platform` runs as
 * the platform caller role, the only one that can: it is for the named platform code paths (sign-in,
 * webhook ingest, routing and worker, metrics gauges, super admin listings, platform admin creation,
 * the platform audit log) and nothing else. It is subject to the same row level security as the
 * runtime role. `withOwner` runs work as the schema owner and is used only for migrations, seeds
 * and test set-up.
 */
export interface Database {
  readonly kind: DatabaseKind;
  readonly knex: Knex;
  readonly platform: Knex;
  /**
   * The runtime role on the read replica (DATABASE_REPLICA_URL), when there is one. Used only
   * through the replica router, which falls back to `knex` (the primary).
   */
  readonly replica?: Knex;
  /**
   * One connection to the primary and one to the replica for the replica's lag probe, apart from
   * the request pools: a saturated pool must not make the probe think the replica is unusable.
   */
  readonly replicaProbe?: { primary: Knex; replica: Knex };
  /** Which handles log in as their role themselves, by the variable that configures them. */
  readonly separateLogins: Readonly<Record<string, boolean>>;
  withOwner<T>(fn: (owner: Knex) => Promise<T>): Promise<T>;
  migrate(): Promise<void>;
  close(): Promise<void>;
}

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  return options.url ? openPostgres(options) : openPglite(options);
}

function openPostgres(options: DatabaseOptions): Database {
  const poolMax = options.poolMax ?? 10;
  const owner = knexFactory({
    client: 'pg',
    connection: options.url,
    pool: { min: 0, max: 2 },
  });
  const pool = (role: string, login: string | undefined, max = poolMax): Knex =>
    knexFactory({
      client: 'pg',
      // Bound values (phone numbers, emails) must not end up in logged error messages.
      compileSqlOnError: false,
      connection: login ?? options.url,
      pool: {
        min: 0,
        max,
        // Without a login of its own, each pooled connection drops to its role at once.
        afterCreate: login
          ? undefined
          : (
              conn: { query: (sql: string, cb: (err: Error | null) => void) => void },
              done: (err: Error | null, c: unknown) => void,
            ) => conn.query(`set role ${role}`, (err) => done(err, conn)),
      },
    });
  const runtime = pool(RUNTIME_ROLE, options.runtimeUrl);
  // Sign-in, webhook ingest and the worker use it, so it gets the same size as the runtime pool;
  // connections are opened only when needed.
  const platform = pool(PLATFORM_CLIENT_ROLE, options.platformUrl);
  // Logs in as the runtime role itself (the replica router refuses it otherwise), so no SET ROLE.
  // A replica that is down must be noticed quickly: the request then reads from the primary.
  const replica = options.replicaUrl
    ? createReplicaKnex(knexFactory, options.replicaUrl, poolMax, runtime)
    : undefined;
  const replicaProbe = options.replicaUrl
    ? {
        primary: pool(RUNTIME_ROLE, options.runtimeUrl, 1),
        replica: createReplicaKnex(knexFactory, options.replicaUrl, 1, runtime),
      }
    : undefined;
  return {
    kind: 'postgres',
    knex: runtime,
    platform,
    replica,
    replicaProbe,
    separateLogins: {
      DATABASE_RUNTIME_URL: !!options.runtimeUrl,
      DATABASE_PLATFORM_URL: !!options.platformUrl,
    },
    withOwner: (fn) => fn(owner),
    migrate: () => migrateLatest(owner),
    close: async () => {
      await replica?.destroy();
      await replicaProbe?.primary.destroy();
      await replicaProbe?.replica.destroy();
      await runtime.destroy();
      await platform.destroy();
      await owner.destroy();
    },
  };
}

async function openPglite(options: DatabaseOptions): Promise<Database> {
  // PGlite is Postgres in WebAssembly with one connection. Three knex instances share it: the
  // runtime role's, the platform caller role's and the owner's (the session's superuser, for
  // migrations). A gate lets one of them hold the connection at a time (a whole transaction, or one
  // statement), and the connection is switched to that instance's role when it changes hands, so
  // each instance always runs as its own role.
  const { PGlite } = await import('@electric-sql/pglite');
  // The contrib entry points are resolved through the package's export map, which this project's
  // CommonJS module resolution cannot type; their shape is PGlite's Extension.
  type Contrib = Record<string, import('@electric-sql/pglite').Extension>;
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { citext } = require('@electric-sql/pglite/contrib/citext') as Contrib;
  const { btree_gist } = require('@electric-sql/pglite/contrib/btree_gist') as Contrib;
  /* eslint-enable @typescript-eslint/no-require-imports */
  const ClientPgLite = (await import('knex-pglite')).default;
  const gate = new ConnectionGate();
  // knex-pglite names a delete's command 'DEL', which knex does not read as a row count; answer
  // deletes (and increments) with the number of affected rows, as the pg client does.
  class PgliteClient extends (ClientPgLite as unknown as new (config: Knex.Config) => object) {
    declare config: Knex.Config & { sessionRole: string | null };
    processResponse(obj: PgliteResponse, runner: unknown): unknown {
      if ((obj.method === 'del' || obj.method === 'counter') && !obj.returning && !obj.output) {
        return obj.response?.affectedRows ?? 0;
      }
      return (ClientPgLite.prototype as unknown as PgliteProcessor).processResponse.call(
        this,
        obj,
        runner,
      );
    }
    async acquireConnection(): Promise<PgliteConnection> {
      const release = await gate.enter();
      try {
        const conn = await (
          ClientPgLite.prototype as unknown as PgliteAcquirer
        ).acquireConnection.call(this);
        const role = this.config.sessionRole;
        if (gate.role !== role) {
          await conn.query(role ? `set role ${role}` : 'reset role');
          gate.role = role;
        }
        gate.release = release;
        return conn;
      } catch (err) {
        release();
        throw err;
      }
    }
    async releaseConnection(conn: PgliteConnection): Promise<void> {
      await (ClientPgLite.prototype as unknown as PgliteAcquirer).releaseConnection.call(
        this,
        conn,
      );
      const release = gate.release;
      gate.release = undefined;
      release?.();
    }
    // The one connection is the PGlite instance itself; close() below closes it once.
    async destroyRawConnection(): Promise<void> {}
  }
  const dir = options.pgliteDataDir ?? path.resolve('.data', 'pglite');
  const inMemory = dir === 'memory';
  if (!inMemory) mkdirSync(dir, { recursive: true });
  const pglite = await PGlite.create({
    ...(inMemory ? {} : { dataDir: dir }),
    extensions: { citext, btree_gist },
    parsers: { [DATE_OID]: (value: string) => value },
  });
  const instance = (sessionRole: string | null): Knex =>
    knexFactory({
      client: PgliteClient as unknown as typeof ClientPgLite,
      dialect: 'postgres',
      connection: () => ({ pglite }) as object,
      sessionRole,
    } as Knex.Config);
  const owner = instance(null);
  const knex = instance(RUNTIME_ROLE);
  const platform = instance(PLATFORM_CLIENT_ROLE);
  return {
    kind: 'pglite',
    knex,
    platform,
    separateLogins: {},
    withOwner: (fn) => fn(owner),
    migrate: () => migrateLatest(owner),
    close: async () => {
      await knex.destroy();
      await platform.destroy();
      await owner.destroy();
      if (!pglite.closed) await pglite.close();
    },
  };
}

/** One holder at a time of PGlite's single connection, in arrival order. */
class ConnectionGate {
  /** The role the connection is set to; null is the session's own (owner) role. */
  role: string | null = null;
  release?: () => void;
  private tail: Promise<void> = Promise.resolve();

  async enter(): Promise<() => void> {
    let release!: () => void;
    const turn = new Promise<void>((resolve) => {
      release = resolve;
    });
    const before = this.tail;
    this.tail = before.then(() => turn);
    await before;
    return release;
  }
}

interface PgliteConnection {
  query(sql: string): Promise<unknown>;
}
interface PgliteAcquirer {
  acquireConnection(): Promise<PgliteConnection>;
  releaseConnection(conn: PgliteConnection): Promise<void>;
}

interface PgliteResponse {
  method?: string;
  returning?: unknown;
  output?: unknown;
  response?: { affectedRows?: number };
}
interface PgliteProcessor {
  processResponse(obj: PgliteResponse, runner: unknown): unknown;
}

/**
 * Checks, before serving, that the runtime and platform handles run as their roles, and that a
 * separate login is that role itself (its session user), so `RESET ROLE` cannot reach another.
 */
export async function checkSessionRoles(db: Database): Promise<void> {
  const problems: string[] = [];
  const check = async (knex: Knex, role: string, variable: string) => {
    const { rows } = (await knex.raw(
      'select session_user::text as session, current_user::text as current',
    )) as { rows: { session: string; current: string }[] };
    const { session, current } = rows[0];
    if (current !== role) problems.push(`${variable}: runs as ${current}, not ${role}`);
    if (db.separateLogins[variable] && session !== role) {
      problems.push(`${variable} must log in as ${role} itself (it logs in as ${session})`);
    }
  };
  await check(db.knex, RUNTIME_ROLE, 'DATABASE_RUNTIME_URL');
  await check(db.platform, PLATFORM_CLIENT_ROLE, 'DATABASE_PLATFORM_URL');
  if (problems.length > 0) throw new Error(`database roles:\n  - ${problems.join('\n  - ')}`);
}

export async function migrateLatest(owner: Knex): Promise<void> {
  await owner.migrate.latest(MIGRATION_CONFIG);
  await owner.raw(`grant select on knex_migrations to ${RUNTIME_ROLE}`);
}

/** True when every known migration has been applied (used by /readyz). */
export async function migrationsCurrent(knex: Knex): Promise<boolean> {
  const { rows } = (await knex.raw('select name from knex_migrations')) as {
    rows: { name: string }[];
  };
  const applied = new Set(rows.map((r) => r.name));
  const { MIGRATIONS } = await import('./migration-source');
  return MIGRATIONS.every(([name]) => applied.has(name));
}
