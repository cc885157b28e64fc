import pino from 'pino';
import { startServer, type AppServer } from '../../src/app';
import { testConfig, type Config } from '../../src/config';
import { createMetrics } from '../../src/observability/metrics';
import type { Database } from '../../src/db/database';
import { createTestDatabase, type TestDatabase } from './pg';

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

/** A real server on a database of its own, over real HTTP on a free loopback port. */
export async function startTestServer(
  overrides: Partial<Config> = {},
  /** The server's database handles another way than t.db (e.g. through a connection pooler). */
  openDb?: (t: TestDatabase) => Promise<Database>,
): Promise<TestServer> {
  const t = await createTestDatabase();
  const db = openDb ? await openDb(t) : t.db;
  const deps = {
    config: testConfig({ port: 0, host: '127.0.0.1', databaseUrl: t.url, ...overrides }),
    db,
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    metrics: createMetrics(),
  };
  const server = await startServer(deps);
  const gql: TestServer['gql'] = async (query, variables, options = {}) => {
    const res = await fetch(`${server.url}/graphql`, {
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
