import { openDatabase } from '../../src/db/database';
import { createTestDatabase, type TestDatabase } from '../helpers/pg';
import { defineIsolationSuite } from './isolation-suite';

/** The tenant isolation proof on PostgreSQL; fixtures are written by the test superuser. */
let t: TestDatabase | undefined;
afterAll(async () => t?.drop());

defineIsolationSuite(async () => {
  t = await createTestDatabase();
  const { url, superuser, db } = t;
  return {
    db,
    asOwner: (fn) => fn(superuser),
    singleConnection: async () => {
      const single = await openDatabase({ url, poolMax: 1 });
      return { db: single, close: () => single.close() };
    },
  };
});
