jest.mock('@electric-sql/pglite', () => require('node:module')._load(require.resolve('@electric-sql/pglite'), null, false));
jest.mock('@electric-sql/pglite/contrib/citext', () => require('node:module')._load(require.resolve('@electric-sql/pglite/contrib/citext'), null, false));
jest.mock('@electric-sql/pglite/contrib/btree_gist', () => require('node:module')._load(require.resolve('@electric-sql/pglite/contrib/btree_gist'), null, false));
import { openDatabase } from '../../src/db/database';
test('probe', async () => {
  let t = Date.now();
  const db = await openDatabase({ pgliteDataDir: 'memory' });
  console.log('open', Date.now() - t); t = Date.now();
  await db.migrate();
  console.log('migrate', Date.now() - t);
  console.log(JSON.stringify((await db.knex.raw('select current_user, version()')).rows));
  const r = await db.withOwner((o) => o.raw(`select polname, pg_get_expr(polqual, polrelid) q, pg_get_expr(polwithcheck, polrelid) w from pg_policy limit 1`));
  console.log(JSON.stringify(r.rows));
  const r2 = await db.withOwner((o) => o.raw(`select array(select attname::text from pg_attribute where attrelid='customers'::regclass and attnum>0) a, array(select attname from pg_attribute where attrelid='customers'::regclass and attnum>0) b, i.indclass[0] ic from pg_index i limit 1`));
  console.log(JSON.stringify(r2.rows));
  try { await db.knex.raw('insert into companies(name, slug) values (1,2)'); } catch (e) { console.log(Object.keys(e as object), (e as {code: string}).code); }
  let n = 0; db.knex.on('query', () => n++);
  await db.knex.transaction(async (trx) => { await trx.raw('select 1'); });
  console.log('queries seen', n);
  await db.close();
}, 120000);
