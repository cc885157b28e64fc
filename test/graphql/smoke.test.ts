import { startTestServer, type TestServer } from '../helpers/server';
import { createWorld, type World } from '../helpers/world';

let s: TestServer;
let w: World;
beforeAll(async () => {
  s = await startTestServer();
  w = await createWorld(s);
});
afterAll(async () => s.close());

test('admin lists appointments with relations', async () => {
  const token = await w.login(w.a.users.admin.email);
  const res = await s.gql(
    `{ me { name roles company { name } } appointments(first: 10) { totalCount nodes { id status customer { name } staff { name } service { name } } } }`,
    {},
    { token },
  );
  expect(res.errors).toBeUndefined();
  console.log(JSON.stringify(res.data, null, 1));
});
