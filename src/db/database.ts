import path from 'node:path';
import { mkdirSync } from 'node:fs';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';

// Calendar dates (working-hour validity, for example) stay 'YYYY-MM-DD' strings: turning them into
// JavaScript Dates would shift them by the server's time zone.
const DATE_OID = 1082;
pg.types.setTypeParser(DATE_OID, (value: string) => value);
import { MIGRATION_CONFIG } from './migration-source';
import { RUNTIME_ROLE } from './schema-helpers';

export type DatabaseKind = 'postgres' | 'pglite';

export interface DatabaseOptions {
  /** Postgres connection string of the schema owner (runs migrations). Without it: embedded PGlite. */
  url?: string;
  /** Optional separate login for the runtime role; otherwise the owner's connections `SET ROLE`. */
  runtimeUrl?: string;
  /** PGlite data folder, or 'memory' for an in-memory database. */
  pgliteDataDir?: string;
  poolMax?: number;
}

/**
 * A database handle. `knex` runs as the runtime role (subject to row level security); `withOwner`
 * runs work as the schema owner and is used only for migrations, seeds and test set-up.
 */
export interface Database {
  readonly kind: DatabaseKind;
  readonly knex: Knex;
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
  const runtime = knexFactory({
    client: 'pg',
    // Bound values (phone numbers, emails) must not end up in logged error messages.
    compileSqlOnError: false,
    connection: options.runtimeUrl ?? options.url,
    pool: {
      min: 0,
      max: poolMax,
      // Without a login of its own, each pooled connection drops to the runtime role at once.
      afterCreate: options.runtimeUrl
        ? undefined
        : (
            conn: { query: (sql: string, cb: (err: Error | null) => void) => void },
            done: (err: Error | null, c: unknown) => void,
          ) => conn.query(`set role ${RUNTIME_ROLE}`, (err) => done(err, conn)),
    },
  });
  return {
    kind: 'postgres',
    knex: runtime,
    withOwner: (fn) => fn(owner),
    migrate: () => migrateLatest(owner),
    close: async () => {
      await runtime.destroy();
      await owner.destroy();
    },
  };
}

async function openPglite(options: DatabaseOptions): Promise<Database> {
  // PGlite is Postgres in WebAssembly with one connection: migrations run as its superuser first,
  // then the session drops to the runtime role for everything else.
  const { PGlite } = await import('@electric-sql/pglite');
  // The contrib entry points are resolved through the package's export map, which this project's
  // CommonJS module resolution cannot type; their shape is PGlite's Extension.
  type Contrib = Record<string, import('@electric-sql/pglite').Extension>;
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { citext } = require('@electric-sql/pglite/contrib/citext') as Contrib;
  const { btree_gist } = require('@electric-sql/pglite/contrib/btree_gist') as Contrib;
  /* eslint-enable @typescript-eslint/no-require-imports */
  const ClientPgLite = (await import('knex-pglite')).default;
  // knex-pglite names a delete's command 'DEL', which knex does not read as a row count; answer
  // deletes (and increments) with the number of affected rows, as the pg client does.
  class PgliteClient extends (ClientPgLite as unknown as new (config: Knex.Config) => object) {
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
  }
  const dir = options.pgliteDataDir ?? path.resolve('.data', 'pglite');
  const inMemory = dir === 'memory';
  if (!inMemory) mkdirSync(dir, { recursive: true });
  const pglite = await PGlite.create({
    ...(inMemory ? {} : { dataDir: dir }),
    extensions: { citext, btree_gist },
    parsers: { [DATE_OID]: (value: string) => value },
  });
  const knex = knexFactory({
    client: PgliteClient as unknown as typeof ClientPgLite,
    dialect: 'postgres',
    connection: () => ({ pglite }) as object,
  } as Knex.Config);
  let role: 'owner' | 'runtime' = 'owner';
  const asRuntime = async () => {
    if (role !== 'runtime') await knex.raw(`set role ${RUNTIME_ROLE}`);
    role = 'runtime';
  };
  return {
    kind: 'pglite',
    knex,
    withOwner: async (fn) => {
      if (role === 'runtime') await knex.raw('reset role');
      role = 'owner';
      try {
        return await fn(knex);
      } finally {
        await asRuntime();
      }
    },
    migrate: async () => {
      if (role === 'runtime') await knex.raw('reset role');
      role = 'owner';
      try {
        await migrateLatest(knex);
      } finally {
        await asRuntime();
      }
    },
    close: async () => {
      // Destroying knex closes its one connection, which is the PGlite instance itself.
      await knex.destroy();
      if (!pglite.closed) await pglite.close();
    },
  };
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
