import { adminKnex, runPrefix } from './pg';

export default async function globalTeardown(): Promise<void> {
  const name = process.env.APP_TEST_TEMPLATE_DB;
  if (!name) return;
  const admin = adminKnex();
  try {
    await admin.raw('drop database if exists ?? with (force)', [name]);
    // Databases left behind by test files that crashed before their own clean-up.
    const { rows } = (await admin.raw(
      `select datname from pg_database where starts_with(datname, ?)`,
      [runPrefix()],
    )) as { rows: { datname: string }[] };
    for (const row of rows)
      await admin.raw('drop database if exists ?? with (force)', [row.datname]);
  } finally {
    await admin.destroy();
  }
}
