import { randomBytes } from 'node:crypto';
import knexFactory, { type Knex } from 'knex';
import { openDatabase, type Database } from '../../src/db/database';

/** The Postgres server the tests use; its `postgres` database is where test databases are made. */
export const ADMIN_URL =
  process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export function urlFor(database: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

export function adminKnex(database = new URL(ADMIN_URL).pathname.slice(1)): Knex {
  return knexFactory({ client: 'pg', connection: urlFor(database), pool: { min: 0, max: 1 } });
}

export const templateName = (): string => {
  const name = process.env.APP_TEST_TEMPLATE_DB;
  if (!name) throw new Error('APP_TEST_TEMPLATE_DB is not set: run the tests through jest');
  return name;
};

/** Databases of one jest run share a prefix, so concurrent runs never drop each other's. */
export const runPrefix = (): string => `app_test_${process.env.APP_TEST_RUN_ID ?? 'adhoc'}_`;

export interface TestDatabase {
  name: string;
  url: string;
  db: Database;
  /** A superuser connection to the same database, for set-up that bypasses the app on purpose. */
  superuser: Knex;
  drop(): Promise<void>;
}

/**
 * A database of its own for one test file, cloned from the template that the global set-up built
 * by running the migrations.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `${runPrefix()}${randomBytes(6).toString('hex')}`;
  const admin = adminKnex();
  try {
    await admin.raw('create database ?? template ??', [name, templateName()]);
  } finally {
    await admin.destroy();
  }
  const url = urlFor(name);
  const db = await openDatabase({ url, poolMax: 20 });
  const superuser = adminKnex(name);
  return {
    name,
    url,
    db,
    superuser,
    drop: async () => {
      await db.close();
      await superuser.destroy();
      const a = adminKnex();
      try {
        await a.raw('drop database if exists ?? with (force)', [name]);
      } finally {
        await a.destroy();
      }
    },
  };
}
