/**
 * A load generator for the webhook ingest path, run as a separate process by
 * ingest-throughput.test.ts so its CPU does not count against the server's. It keeps `concurrency`
 * signed Retell deliveries in flight for `durationMs`, each a new event (its own call id) signed
 * at send time, and prints a JSON summary.
 *
 * Usage: node load-client.js <baseUrl> <apiKey> <durationMs> <concurrency> <agentId> <toNumber>
 */
import http from 'node:http';
import { createHmac } from 'node:crypto';

const [baseUrl, apiKey, durationArg, concurrencyArg, agentId, toNumber] = process.argv.slice(2);
const durationMs = Number(durationArg);
const concurrency = Number(concurrencyArg);
const target = new URL('/api/webhooks/retell', baseUrl);
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });

function sign(body: string, at: number): string {
  const ts = String(at);
  const digest = createHmac('sha256', apiKey).update(body).update(ts).digest('hex');
  return `v=${ts},d=${digest}`;
}

function post(body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      target,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'x-retell-signature': sign(body, Date.now()),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function main(): Promise<void> {
  const statuses: Record<string, number> = {};
  const latencies: number[] = [];
  let n = 0;
  const started = Date.now();
  const until = started + durationMs;
  const lane = async (lane: number) => {
    while (Date.now() < until) {
      const body = JSON.stringify({
        event: 'call_started',
        call: {
          call_id: `load_${process.pid}_${lane}_${n++}`,
          agent_id: agentId,
          call_type: 'phone_call',
          call_status: 'ongoing',
          direction: 'inbound',
          from_number: '+4915112345678',
          to_number: toNumber,
          start_timestamp: Date.now(),
          metadata: {},
        },
      });
      const t0 = process.hrtime.bigint();
      const status = await post(body);
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, i) => lane(i)));
  const elapsed = (Date.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))];
  process.stdout.write(
    JSON.stringify({
      seconds: elapsed,
      requests: latencies.length,
      statuses,
      accepted: statuses['202'] ?? 0,
      acceptedPerSecond: (statuses['202'] ?? 0) / elapsed,
      p50ms: pct(0.5),
      p99ms: pct(0.99),
    }),
  );
  agent.destroy();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
