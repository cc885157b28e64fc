import { createTestDatabase, type TestDatabase } from '../helpers/pg';
import { inTenantTransaction } from '../../src/tenancy/tenant-binding';
import { Customer } from '../../src/models';

/** The tenant filter wraps the whole query; grouped conditions keep their own OR logic. */
let t: TestDatabase;
let a: string;
let b: string;
beforeAll(async () => {
  t = await createTestDatabase();
  [{ id: a }, { id: b }] = await t
    .superuser('companies')
    .insert([
      { name: 'A', slug: 'qb-a' },
      { name: 'B', slug: 'qb-b' },
    ])
    .returning('id');
  await t.superuser('customers').insert([
    { company_id: a, name: 'Ann' },
    { company_id: a, name: 'Bob' },
    { company_id: a, name: 'Cid' },
    { company_id: b, name: 'Ann' },
  ]);
});
afterAll(async () => t.drop());

test('an OR group inside where() is filtered once, around the group', async () => {
  await inTenantTransaction(t.db.knex, a, async (trx) => {
    const q = Customer.query(trx).where((w) => w.where('name', 'Ann').orWhere('name', 'Bob'));
    const { sql } = q.toKnexQuery().toSQL();
    expect(sql.match(/company_id/g)).toHaveLength(1);
    const rows = await q.orderBy('name');
    expect(rows.map((r) => [r.name, r.companyId])).toEqual([
      ['Ann', a],
      ['Bob', a],
    ]);
  });
});

test('a subquery on a tenant model is filtered too', async () => {
  await inTenantTransaction(t.db.knex, a, async (trx) => {
    const sub = Customer.query(trx).select('name').where('name', 'Ann');
    const { sql } = Customer.query(trx).whereIn('name', sub).toKnexQuery().toSQL();
    expect(sql.match(/company_id/g)).toHaveLength(2);
  });
});
