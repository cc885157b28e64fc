import http from 'node:http';
import express from 'express';
import { ApolloServer } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import { GraphQLError } from 'graphql';
import { requestIdMiddleware } from '../../src/http/request-id';
import { createGraphqlMetricsPlugin, OTHER_OPERATION } from '../../src/observability/graphql';
import { annotateRequestLog, observeHttp } from '../../src/observability/http';
import { createMetrics } from '../../src/observability/metrics';
import { createTestDatabase, type TestDatabase } from '../helpers/pg';
import { captureLog, parseSamples, sampleValue, testDeps, waitFor } from './helpers';

const typeDefs = `#graphql
  type Query { hello: String, broken: String, refused: String }
`;
const resolvers = {
  Query: {
    hello: () => 'world',
    broken: () => {
      throw new Error('database on fire');
    },
    refused: () => {
      throw new GraphQLError('No', { extensions: { code: 'FORBIDDEN' } });
    },
  },
};

describe('the GraphQL metrics plugin', () => {
  const metrics = createMetrics();
  const server = new ApolloServer({
    typeDefs,
    resolvers,
    plugins: [
      createGraphqlMetricsPlugin({ metrics }, { maxOperationNames: 3, knownOperations: ['Known'] }),
    ],
  });
  beforeAll(() => server.start());
  afterAll(() => server.stop());

  const count = async (labels: Record<string, string>) =>
    sampleValue(
      await metrics.registry.metrics(),
      'app_graphql_operation_duration_seconds_count',
      labels,
    );

  test('names past the cap, anonymous operations and unparsable requests fold into one value', async () => {
    for (const name of ['Known', 'A', 'B', 'C', 'D', 'A']) {
      await server.executeOperation({ query: `query ${name} { hello }` });
    }
    await server.executeOperation({ query: '{ hello }' });
    await server.executeOperation({ query: 'query Broken { hello' });
    await server.executeOperation({ query: 'query Unknown { nope }' });

    // Known was reserved, A and B took the two places left, C and D fold.
    expect(await count({ operation: 'Known', type: 'query', outcome: 'success' })).toBe(1);
    expect(await count({ operation: 'A' })).toBe(2);
    expect(await count({ operation: 'B' })).toBe(1);
    expect(await count({ operation: 'C' })).toBeUndefined();
    expect(await count({ operation: OTHER_OPERATION, outcome: 'success' })).toBe(3); // C, D, anonymous
    expect(await count({ operation: OTHER_OPERATION, outcome: 'client_error' })).toBe(2);
    const operations = new Set(
      parseSamples(await metrics.registry.metrics())
        .filter((s) => s.name === 'app_graphql_operation_duration_seconds_count')
        .map((s) => s.labels.operation),
    );
    expect([...operations].sort()).toEqual([OTHER_OPERATION, 'A', 'B', 'Known'].sort());
    const text = await metrics.registry.metrics();
    expect(sampleValue(text, 'app_graphql_errors_total', { code: 'GRAPHQL_PARSE_FAILED' })).toBe(1);
    expect(
      sampleValue(text, 'app_graphql_errors_total', { code: 'GRAPHQL_VALIDATION_FAILED' }),
    ).toBe(1);
  });

  test('outcomes: a client error is the caller’s, an internal error is the server’s', async () => {
    await server.executeOperation({ query: 'query A { refused }' });
    await server.executeOperation({ query: 'query A { broken }' });
    expect(await count({ operation: 'A', outcome: 'client_error' })).toBe(1);
    expect(await count({ operation: 'A', outcome: 'server_error' })).toBe(1);
    const text = await metrics.registry.metrics();
    expect(sampleValue(text, 'app_graphql_errors_total', { code: 'FORBIDDEN' })).toBe(1);
    expect(sampleValue(text, 'app_graphql_errors_total', { code: 'INTERNAL_SERVER_ERROR' })).toBe(
      1,
    );
    expect(await count({ operation: 'A', type: 'mutation' })).toBeUndefined();
  });
});

describe('GraphQL over HTTP', () => {
  let t: TestDatabase;
  let server: http.Server;
  let apollo: ApolloServer;
  const log = captureLog();
  let deps: ReturnType<typeof testDeps>;

  beforeAll(async () => {
    t = await createTestDatabase();
    deps = testDeps(t, log);
    apollo = new ApolloServer({ typeDefs, resolvers, plugins: [createGraphqlMetricsPlugin(deps)] });
    await apollo.start();
    const app = express();
    app.use(requestIdMiddleware);
    app.use(observeHttp(deps));
    app.use(
      '/graphql',
      express.json(),
      expressMiddleware(apollo, {
        context: async ({ req }) => {
          annotateRequestLog(req, {
            companyId: 'c0ffee00-0000-4000-8000-000000000001',
            userId: 'u-1',
          });
          return {};
        },
      }),
    );
    server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    const closed = new Promise((resolve) => server.close(resolve));
    server.closeAllConnections();
    await closed;
    await apollo.stop();
    await t.drop();
  });

  const post = (body: unknown) => {
    const { port } = server.address() as { port: number };
    return fetch(`http://127.0.0.1:${port}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  };

  test('the request line carries the operation name, company and user; the route is /graphql', async () => {
    const res = await post({
      query: 'query Greeting { hello }',
      variables: { password: 'S-hidden' },
    });
    expect(res.status).toBe(200);
    const requestId = res.headers.get('x-request-id');
    const line = await waitFor('the request line', () =>
      log.lines.find((l) => l.msg === 'request completed' && l.requestId === requestId),
    );
    expect(line).toMatchObject({
      route: '/graphql',
      operationName: 'Greeting',
      operationType: 'query',
      companyId: 'c0ffee00-0000-4000-8000-000000000001',
      userId: 'u-1',
      status: 200,
    });
    expect(log.raw.join('\n')).not.toContain('S-hidden');
    const text = await deps.metrics.registry.metrics();
    expect(
      sampleValue(text, 'app_http_request_duration_seconds_count', {
        route: '/graphql',
        method: 'POST',
      }),
    ).toBe(1);
    expect(
      sampleValue(text, 'app_graphql_operation_duration_seconds_count', { operation: 'Greeting' }),
    ).toBe(1);
  });

  test('an internal GraphQL error counts for the company once, though the HTTP status is 200', async () => {
    const res = await post({ query: 'query Broken { broken }' });
    expect(res.status).toBe(200);
    const text = await deps.metrics.registry.metrics();
    expect(
      sampleValue(text, 'app_tenant_server_errors_total', {
        company_id: 'c0ffee00-0000-4000-8000-000000000001',
      }),
    ).toBe(1);
    expect(
      sampleValue(text, 'app_graphql_operation_duration_seconds_count', {
        operation: 'Broken',
        outcome: 'server_error',
      }),
    ).toBe(1);
  });
});
