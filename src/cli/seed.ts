import 'reflect-metadata';
import type { Config } from '../config';
import { DEMO_PASSWORD, demoUserLines, seedDemoData } from '../seed/demo';
import {
  describeDatabase,
  migrateAndReport,
  openConfiguredDatabase,
  printMigrations,
  runCommand,
} from './migrate';

/** Migrates, then seeds the demo companies when the database has none yet. */
async function seed(config: Config): Promise<void> {
  if (config.env === 'production') {
    console.error('Refusing to seed demo data with NODE_ENV=production.');
    process.exit(2);
  }
  if (!config.seedDemoData) {
    // Demo users have a published password: a real database gets them only when asked for.
    console.error(
      'Refusing to seed demo data (users with the password demo-password) into DATABASE_URL: set SEED_DEMO_DATA=true to do it.',
    );
    process.exit(2);
  }
  console.log(`Database: ${describeDatabase(config)}`);
  const db = await openConfiguredDatabase(config);
  try {
    printMigrations(await migrateAndReport(db));
    const result = await seedDemoData(db);
    if (!result.seeded) {
      console.log('Demo data: not seeded, the database already has companies');
      return;
    }
    console.log(
      `Demo data: ${result.companies} companies, ${result.appointments} appointments, ` +
        `${result.customers} customers, ${result.calls} calls, ${result.users} users ` +
        `in ${result.durationMs} ms`,
    );
    console.log(`Demo users (password: ${DEMO_PASSWORD}):`);
    for (const line of demoUserLines()) console.log(`  ${line}`);
  } finally {
    await db.close();
  }
}

runCommand(seed);
