import { openDatabase, type Database } from '../../src/db/database';
import { inTenantTransaction } from '../../src/tenancy/tenant-binding';
import { Branch } from '../../src/models';

/** The embedded database behaves like Postgres where the product relies on it. */
let db: Database;
beforeAll(async () => {
  db = await openDatabase({ pgliteDataDir: 'memory' });
  await db.migrate();
}, 60_000);
afterAll(async () => db.close());

test('deletes and updates answer the number of affected rows; dates stay strings', async () => {
  const companyId = await db.withOwner(async (owner) => {
    const [row] = await owner('companies').insert({ name: 'P', slug: 'pglite-co' }).returning('id');
    return row.id as string;
  });
  await inTenantTransaction(db.knex, companyId, async (trx) => {
    const branch = await Branch.query(trx).insert({ name: 'Main' });
    expect(await Branch.query(trx).findById(branch.id).patch({ name: 'Main 2' })).toBe(1);
    expect(await Branch.query(trx).deleteById(branch.id)).toBe(1);
    expect(await Branch.query(trx).deleteById(branch.id)).toBe(0);
    const { rows } = (await trx.raw(`select date '2026-03-29' as d`)) as { rows: { d: unknown }[] };
    expect(rows[0].d).toBe('2026-03-29');
  });
  const { rows } = (await db.knex.raw('select current_user as u')) as { rows: { u: string }[] };
  expect(rows[0].u).toBe('app_runtime');
});
