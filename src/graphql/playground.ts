import path from 'node:path';
import express, { type Request, type Router } from 'express';

/**
 * GraphiQL served from the project's own dependencies (graphiql 3 UMD build with React 18 UMD), so
 * the playground works with no internet access. No inline script: the page runs under a CSP that
 * allows scripts from this server only.
 */
const assets: Record<string, string> = {
  'react.js': path.join(
    path.dirname(require.resolve('react/package.json')),
    'umd/react.production.min.js',
  ),
  'react-dom.js': path.join(
    path.dirname(require.resolve('react-dom/package.json')),
    'umd/react-dom.production.min.js',
  ),
  'graphiql.js': path.join(
    path.dirname(require.resolve('graphiql/package.json')),
    'graphiql.min.js',
  ),
  // graphql-ws's browser build (global `graphqlWs`): subscriptions run over a WebSocket.
  'graphql-ws.js': path.join(
    path.dirname(require.resolve('graphql-ws/package.json')),
    'umd/graphql-ws.min.js',
  ),
  'graphiql.css': path.join(
    path.dirname(require.resolve('graphiql/package.json')),
    'graphiql.min.css',
  ),
};

const EXAMPLE = `# Welcome to the playground.
# 1. Sign in: run the login mutation below with a demo user (see the README).
# 2. Copy accessToken into the Headers tab: {"Authorization": "Bearer <accessToken>"}
# 3. Run the query operations.

mutation Login {
  login(input: { email: "admin@salon.example", password: "demo-password" }) {
    accessToken
    accessTokenExpiresAt
  }
}

query Me {
  me {
    name
    email
    roles
    company { name timezone }
  }
}

# 4. Live updates: run this subscription, then book an appointment (by phone, Cal.com or the
#    bookAppointment mutation in another tab); the change appears here without a reload.
subscription AppointmentsLive {
  appointmentChanged {
    action
    appointment { id startsAt status staff { name } customer { name } }
  }
}

query UpcomingAppointments {
  appointments(first: 10, orderBy: { field: STARTS_AT, direction: ASC }) {
    totalCount
    nodes {
      id
      startsAt
      status
      customer { name phoneE164 }
      staff { name }
      service { name durationMinutes }
    }
    pageInfo { hasNextPage endCursor }
  }
}
`;

const INIT = `(function () {
  var httpFetcher = GraphiQL.createFetcher({ url: window.location.origin + '/graphql' });
  // Subscriptions go over graphql-ws on the same /graphql path, authenticated in connection_init
  // with the Authorization (and X-Company-Id) of the Headers tab; one socket per set of headers.
  var wsUrl = (window.location.protocol === 'https:' ? 'wss://' : 'ws://') + window.location.host + '/graphql';
  var socket = null;
  function wsClient(headers) {
    var params = {
      authorization: headers.Authorization || headers.authorization || undefined,
      companyId: headers['X-Company-Id'] || headers['x-company-id'] || undefined
    };
    var key = JSON.stringify(params);
    if (socket && socket.key === key) return socket.client;
    if (socket) socket.client.dispose();
    socket = { key: key, client: graphqlWs.createClient({ url: wsUrl, connectionParams: params, lazy: true, retryAttempts: 0 }) };
    return socket.client;
  }
  function isSubscription(doc, name) {
    if (!doc) return false;
    var ops = doc.definitions.filter(function (d) { return d.kind === 'OperationDefinition'; });
    var op = name ? ops.filter(function (d) { return d.name && d.name.value === name; })[0] : ops.length === 1 ? ops[0] : null;
    return !!op && op.operation === 'subscription';
  }
  function fetcher(params, opts) {
    if (opts && isSubscription(opts.documentAST, params.operationName)) {
      return wsClient(opts.headers || {}).iterate({
        query: params.query,
        variables: params.variables,
        operationName: params.operationName || undefined
      });
    }
    return httpFetcher(params, opts);
  }
  // The headers hold a bearer token: they live in this tab's session storage, which ends with the
  // tab, never in local storage, which outlives it and every other page of the origin can read.
  var storage = null;
  try { storage = window.sessionStorage; } catch (e) {}
  try {
    // Earlier versions kept the headers (and tabs with them) in local storage: remove them.
    for (var i = window.localStorage.length - 1; i >= 0; i--) {
      var key = window.localStorage.key(i);
      if (key && key.indexOf('graphiql:') === 0) window.localStorage.removeItem(key);
    }
  } catch (e) {}
  var stored = null;
  try { stored = storage && storage.getItem('graphiql:headers'); } catch (e) {}
  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(React.createElement(GraphiQL, {
    fetcher: fetcher,
    storage: storage || undefined,
    defaultQuery: ${JSON.stringify(EXAMPLE)},
    defaultHeaders: stored || '{}',
    defaultEditorToolsVisibility: 'headers',
    shouldPersistHeaders: true,
    isHeadersEditorEnabled: true
  }));
})();`;

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>GraphQL playground</title>
<link rel="stylesheet" href="/playground/assets/graphiql.css">
<style>html, body, #graphiql { height: 100%; margin: 0; }</style>
</head>
<body>
<div id="graphiql">Loading the playground...</div>
<script src="/playground/assets/react.js"></script>
<script src="/playground/assets/react-dom.js"></script>
<script src="/playground/assets/graphiql.js"></script>
<script src="/playground/assets/graphql-ws.js"></script>
<script src="/playground/assets/init.js"></script>
</body>
</html>`;

const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; font-src 'self' data:; frame-ancestors 'none'";

export function wantsPlayground(req: Request): boolean {
  return (
    req.method === 'GET' &&
    req.query.query === undefined &&
    (req.header('accept') ?? '').includes('text/html')
  );
}

export function playgroundRouter(): Router {
  const router = express.Router();
  router.get('/', (_req, res) => {
    res.setHeader('content-security-policy', CSP);
    res.setHeader('x-content-type-options', 'nosniff');
    res.type('html').send(PAGE);
  });
  router.get('/assets/init.js', (_req, res) => {
    res.type('application/javascript').send(INIT);
  });
  router.get('/assets/:name', (req, res, next) => {
    const file = assets[req.params.name];
    if (!file) return next();
    res.sendFile(file, { maxAge: '1d' });
  });
  return router;
}
