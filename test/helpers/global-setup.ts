import { adminKnex, urlFor } from './pg';
import { migrateLatest } from '../../src/db/database';
import knexFactory from 'knex';

/** Builds the template database once per run by running every migration on a fresh database. */
export default async function globalSetup(): Promise<void> {
  process.env.APP_TEST_RUN_ID = `${process.pid}${Date.now().toString(36)}`;
  const name = `app_tpl_${process.env.APP_TEST_RUN_ID}`;
  const admin = adminKnex();
  try {
    await admin.raw('drop database if exists ?? with (force)', [name]);
    await admin.raw('create database ??', [name]);
  } finally {
    await admin.destroy();
  }
  const owner = knexFactory({ client: 'pg', connection: urlFor(name), pool: { min: 0, max: 1 } });
  try {
    await migrateLatest(owner);
  } finally {
    await owner.destroy();
  }
  process.env.APP_TEST_TEMPLATE_DB = name;
}
