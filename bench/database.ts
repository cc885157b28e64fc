import knexFactory, { type Knex } from 'knex';
import { migrateLatest } from '../src/db/database';

/** The benchmark's own databases on the server that DATABASE_URL names. */

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export function urlFor(baseUrl: string, database: string): string {
  const url = new URL(baseUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

export function connect(url: string, poolMax = 1): Knex {
  return knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: poolMax } });
}

async function withAdmin<T>(baseUrl: string, fn: (admin: Knex) => Promise<T>): Promise<T> {
  const admin = connect(baseUrl);
  try {
    return await fn(admin);
  } finally {
    await admin.destroy();
  }
}

/** Creates an empty database and runs every migration in it (as the URL's user, the owner). */
export async function createMigratedDatabase(baseUrl: string, name: string): Promise<string> {
  await withAdmin(baseUrl, async (admin) => {
    await admin.raw('drop database if exists ?? with (force)', [name]);
    await admin.raw('create database ??', [name]);
  });
  const url = urlFor(baseUrl, name);
  const owner = connect(url);
  try {
    await migrateLatest(owner);
    // The production-mode server logs in as the runtime and platform roles themselves (as
    // production requires); on the benchmark's trust-auth server they need only a login.
    await owner.raw('alter role app_runtime login');
    await owner.raw('alter role app_platform_client login');
  } finally {
    await owner.destroy();
  }
  return url;
}

/** A copy of a (migrated, empty) template database. */
export async function cloneDatabase(baseUrl: string, template: string, name: string) {
  await withAdmin(baseUrl, async (admin) => {
    await admin.raw('drop database if exists ?? with (force)', [name]);
    await admin.raw('create database ?? template ??', [name, template]);
  });
  return urlFor(baseUrl, name);
}

export async function dropDatabase(baseUrl: string, name: string): Promise<void> {
  await withAdmin(baseUrl, async (admin) => {
    await admin.raw('drop database if exists ?? with (force)', [name]);
  });
}

/** Size on disk, for the report. */
export async function databaseSize(knex: Knex): Promise<string> {
  const { rows } = await knex.raw<{ rows: { size: string }[] }>(
    'select pg_size_pretty(pg_database_size(current_database())) as size',
  );
  return rows[0].size;
}
