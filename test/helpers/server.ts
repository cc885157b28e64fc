import { startServer, type AppServer } from '../../src/app';
import { testConfig, type Config } from '../../src/config';
import type { Database } from '../../src/db/database';
import { createTestDatabase, type TestDatabase } from './pg';
import { testDeps } from './deps';

export interface GraphQLResult<T = Record<string, any>> {
  status: number;
  headers: Headers;
  data?: T | null;
  errors?: Array<{ message: string; path?: string[]; extensions?: Record<string, any> }>;
}

export interface TestServer {
  t: TestDatabase;
  server: AppServer;
  url: string;
  gql<T = Record<string, any>>(
    query: string,
    variables?: Record<string, unknown>,
    options?: { token?: string; headers?: Record<string, string> },
  ): Promise<GraphQLResult<T>>;
  close(): Promise<void>;
}

/** Posts GraphQL operations to a server's /graphql over real HTTP, with an optional bearer token. */
export function graphqlClient(baseUrl: string): TestServer['gql'] {
  return async (query, variables, options = {}) => {
    const res = await fetch(`${baseUrl}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...options.headers,
      },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as { data?: any; errors?: any[] };
    return { status: res.status, headers: res.headers, data: body.data, errors: body.errors };
  };
}

/** A real server on a database of its own, over real HTTP on a free loopback port. */
export async function startTestServer(
  overrides: Partial<Config> = {},
  /** The server's database handles another way than t.db (e.g. through a connection pooler). */
  openDb?: (t: TestDatabase) => Promise<Database>,
): Promise<TestServer> {
  const t = await createTestDatabase();
  const db = openDb ? await openDb(t) : t.db;
  const deps = testDeps(db, {
    config: testConfig({ port: 0, host: '127.0.0.1', databaseUrl: t.url, ...overrides }),
  });
  const server = await startServer(deps);
  const gql = graphqlClient(server.url);
  return {
    t,
    server,
    url: server.url,
    gql,
    close: async () => {
      await server.close();
      await t.drop();
    },
  };
}
