import { createTestDatabase, type TestDatabase } from '../helpers/pg';
import { inTenantTransaction } from '../../src/tenancy/tenant-binding';
import { Customer } from '../../src/models';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => t.drop());

test('smoke', async () => {
  const [{ id }] = await t
    .superuser('companies')
    .insert({ name: 'A', slug: 'a-co' })
    .returning('id');
  const c = await inTenantTransaction(t.db.knex, id, (trx) =>
    Customer.query(trx).insert({ name: 'Ann', phoneE164: '+491701234567' }),
  );
  expect(c.companyId).toBe(id);
  const all = await inTenantTransaction(t.db.knex, id, (trx) => Customer.query(trx));
  expect(all).toHaveLength(1);
  await expect(Customer.query(t.db.knex).then((r) => r)).rejects.toThrow(
    /without a tenant context/,
  );
});
