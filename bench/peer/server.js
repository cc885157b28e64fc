'use strict';
/**
 * The peer target: PostGraphile 4 (library mode) over the benchmark database, one Node process,
 * node:http. It logs in as the runtime role, like the production-mode server
 * (DATABASE_RUNTIME_URL), and every request runs in a transaction with
 * `set_config('role', <runtime role>, true)` and `set_config('app.company_id', <company>, true)`
 * (PostGraphile's pgSettings), so row level security applies exactly as in the tenant binding.
 * The company comes from the `x-company-id` header, as for the raw SQL floor: no sign-in.
 *
 * Its own package (bench/peer/package.json) because PostGraphile 4 needs graphql 15 and the
 * product uses graphql 16. Started by bench/run.ts with DATABASE_URL, DB_POOL_MAX, PORT, HOST,
 * RUNTIME_ROLE.
 */
const http = require('node:http');
const pg = require('pg');
const { postgraphile } = require('postgraphile');

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const role = process.env.RUNTIME_ROLE || 'app_runtime';

const pool = new pg.Pool({
  connectionString: process.env.DATABASE_URL,
  max: Number(process.env.DB_POOL_MAX || 10),
});

const handler = postgraphile(pool, 'public', {
  // Production settings (https://www.graphile.org/postgraphile/usage-library/#for-production).
  watchPg: false,
  graphiql: false,
  enhanceGraphiql: false,
  subscriptions: false,
  retryOnInitFail: false,
  dynamicJson: true,
  setofFunctionsContainNulls: false,
  ignoreRBAC: false,
  disableDefaultMutations: true,
  disableQueryLog: true,
  legacyRelations: 'omit',
  showErrorStack: false,
  extendedErrors: ['errcode'],
  pgSettings: (req) => {
    const company = req.headers['x-company-id'];
    if (typeof company !== 'string' || !UUID.test(company)) {
      throw Object.assign(new Error('x-company-id must be a company id'), { statusCode: 400 });
    }
    return { role, 'app.company_id': company };
  },
});

const schemaReady = handler.getGraphQLSchema();
schemaReady.catch((err) => {
  console.error(err);
  process.exit(1);
});

const server = http.createServer((req, res) => {
  if (req.url === '/healthz') {
    schemaReady.then(
      () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}'),
      () => res.writeHead(503).end(),
    );
    return;
  }
  handler(req, res);
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT || 0), process.env.HOST || '127.0.0.1');

const stop = () => {
  server.close();
  server.closeIdleConnections();
  handler
    .release()
    .then(() => pool.end())
    .then(
      () => process.exit(0),
      () => process.exit(1),
    );
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
