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
  expect(res.data?.me).toEqual({
    name: 'admin alpha',
    roles: ['ADMIN'],
    company: { name: 'Company alpha' },
  });
  expect(res.data?.appointments).toEqual({
    totalCount: 1,
    nodes: [
      {
        id: expect.any(String),
        status: 'SCHEDULED',
        customer: { name: 'Customer alpha' },
        staff: { name: 'Stylist alpha' },
        service: { name: 'Haircut' },
      },
    ],
  });
});
