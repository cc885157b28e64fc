import 'reflect-metadata';
import { ConfigError, loadConfig, type Config } from '../config';
import { openDatabase, type Database } from '../db/database';

/** Where the database is, for humans; a password in the URL is never printed. */
export function describeDatabase(config: Config): string {
  if (!config.databaseUrl) return `embedded PGlite at ${config.pgliteDataDir}`;
  const url = new URL(config.databaseUrl);
  if (url.password) url.password = '***';
  return `PostgreSQL ${url.toString()}`;
}

export async function openConfiguredDatabase(config: Config): Promise<Database> {
  return openDatabase({
    url: config.databaseUrl,
    runtimeUrl: config.databaseRuntimeUrl,
    platformUrl: config.databasePlatformUrl,
    pgliteDataDir: config.pgliteDataDir,
    poolMax: 2,
  });
}

/**
 * Applies pending migrations and returns the names of those it applied. They are read back from
 * knex_migrations by the time knex stamped on them, because the embedded database cannot be
 * asked anything as the owner before its roles exist.
 */
export async function migrateAndReport(db: Database): Promise<string[]> {
  const started = new Date(Date.now() - 1);
  await db.migrate();
  const { rows } = await db.knex.raw<{ rows: { name: string }[] }>(
    'select name from knex_migrations where migration_time >= ? order by id',
    [started],
  );
  return rows.map((r) => r.name);
}

export function printMigrations(applied: readonly string[]): void {
  if (applied.length === 0) {
    console.log('Migrations: up to date');
    return;
  }
  console.log(`Migrations: applied ${applied.length}`);
  for (const name of applied) console.log(`  ${name}`);
}

/** Runs `main` as a command: configuration problems exit 2, anything else exits 1. */
export function runCommand(main: (config: Config) => Promise<void>): void {
  let config: Config;
  try {
    config = loadConfig(process.env, { server: false });
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  main(config).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}

async function migrate(config: Config): Promise<void> {
  console.log(`Database: ${describeDatabase(config)}`);
  const db = await openConfiguredDatabase(config);
  try {
    printMigrations(await migrateAndReport(db));
  } finally {
    await db.close();
  }
}

if (require.main === module) runCommand(migrate);
