import type { Knex } from 'knex';
import { migrationSource } from './src/db/migration-source';

/**
 * For the knex CLI against a real Postgres (DATABASE_URL as the schema owner). The server itself
 * migrates on start, also on the embedded database; see src/db/database.ts.
 */
const config: Knex.Config = {
  client: 'pg',
  connection: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  migrations: { migrationSource },
};

export default config;
