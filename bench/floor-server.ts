/**
 * The floor: the least a server can do to answer the appointments page. A bare node:http server
 * with a pg pool of the same size as the application's, every pooled connection `set role
 * app_runtime`, and per request `BEGIN; select set_config('app.company_id', $1, true); <one SQL
 * joining customer, staff and service>; COMMIT` under forced row level security. The answer has
 * the shape of the GraphQL response (edges with global ids and cursors), so the JSON work is
 * comparable. The company comes from the `x-company-id` header: no sign-in, no GraphQL.
 *
 * Run as a child process by bench/run.ts: `node dist/bench/floor-server.js` with DATABASE_URL,
 * PORT, HOST and DB_POOL_MAX.
 */
import http from 'node:http';
import pg from 'pg';

export const FLOOR_PAGE_SQL = `
select a.id, a.starts_at, a.ends_at, a.status, a.source, a.notes, a.price_cents,
       c.id as customer_id, c.name as customer_name, c.phone_e164 as customer_phone,
       c.email as customer_email,
       s.id as staff_id, s.name as staff_name,
       v.id as service_id, v.name as service_name, v.duration_minutes as service_duration,
       v.price_cents as service_price
  from appointments a
  join customers c on c.company_id = a.company_id and c.id = a.customer_id
  left join staff s on s.company_id = a.company_id and s.id = a.staff_id
  join services v on v.company_id = a.company_id and v.id = a.service_id
 order by a.starts_at, a.id
 limit $1`;

interface Row {
  id: string;
  starts_at: Date;
  ends_at: Date;
  status: string;
  source: string;
  notes: string | null;
  price_cents: number | null;
  customer_id: string;
  customer_name: string;
  customer_phone: string | null;
  customer_email: string | null;
  staff_id: string | null;
  staff_name: string | null;
  service_id: string;
  service_name: string;
  service_duration: number;
  service_price: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const gid = (type: string, company: string, id: string) =>
  Buffer.from(`${type}:${company}:${id}`).toString('base64url');

function main(): void {
  const pool = new pg.Pool({
    connectionString: process.env.DATABASE_URL,
    max: Number(process.env.DB_POOL_MAX ?? 10),
  });
  pool.on('connect', (client) => {
    client.query('set role app_runtime').catch(() => undefined);
  });

  const page = async (company: string, first: number): Promise<string> => {
    const client = await pool.connect();
    let ok = false;
    try {
      await client.query('begin');
      await client.query({
        name: 'floor_tenant',
        text: `select set_config('app.company_id', $1, true)`,
        values: [company],
      });
      const { rows } = await client.query<Row>({
        name: 'floor_page',
        text: FLOOR_PAGE_SQL,
        values: [first + 1],
      });
      await client.query('commit');
      ok = true;
      const more = rows.length > first;
      if (more) rows.pop();
      const edges = rows.map((r) => ({
        cursor: Buffer.from(
          JSON.stringify({ c: company, k: 'starts_at', v: r.starts_at.toISOString(), i: r.id }),
        ).toString('base64url'),
        node: {
          id: gid('Appointment', company, r.id),
          startsAt: r.starts_at.toISOString(),
          endsAt: r.ends_at.toISOString(),
          status: r.status.toUpperCase(),
          source: r.source.toUpperCase(),
          notes: r.notes,
          priceCents: r.price_cents,
          customer: {
            id: gid('Customer', company, r.customer_id),
            name: r.customer_name,
            phoneE164: r.customer_phone,
            email: r.customer_email,
          },
          staff: r.staff_id ? { id: gid('Staff', company, r.staff_id), name: r.staff_name } : null,
          service: {
            id: gid('Service', company, r.service_id),
            name: r.service_name,
            durationMinutes: r.service_duration,
            priceCents: r.service_price,
          },
        },
      }));
      return JSON.stringify({
        data: {
          appointments: {
            edges,
            pageInfo: { hasNextPage: more, endCursor: edges[edges.length - 1]?.cursor ?? null },
          },
        },
      });
    } finally {
      if (!ok) await client.query('rollback').catch(() => undefined);
      client.release(!ok);
    }
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://floor');
    if (url.pathname === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    const company = req.headers['x-company-id'];
    if (url.pathname !== '/appointments' || typeof company !== 'string' || !UUID.test(company)) {
      res.writeHead(404).end();
      return;
    }
    const first = Math.min(100, Math.max(1, Number(url.searchParams.get('first') ?? 50) || 50));
    page(company, first).then(
      (body) => res.writeHead(200, { 'content-type': 'application/json' }).end(body),
      (err: unknown) => {
        console.error(err);
        res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"internal"}');
      },
    );
  });
  server.keepAliveTimeout = 65_000;
  server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1');
  const stop = () => {
    server.close();
    server.closeIdleConnections();
    pool.end().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (require.main === module) main();
