import autocannon from 'autocannon';

/**
 * One load run with autocannon: `connections` keep-alive connections, each sending the next
 * request as soon as the previous answer arrived, for `durationS` seconds. Every response is
 * checked (status and, for GraphQL, the `errors` key); latencies are kept per response so the
 * percentiles (p95 included, which autocannon's summary lacks) are exact.
 */

export interface LoadRequest {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
  /** Called for every request; returns what differs from the template (body, headers, path). */
  next?: () => { body?: string; headers?: Record<string, string>; path?: string };
  /** Returns an error description for a bad response, or null. */
  check: (status: number, body: string) => string | null;
}

export interface LoadResult {
  requests: number;
  durationS: number;
  rps: number;
  /** Responses that passed the check, per second. */
  okRps: number;
  latencyMs: { mean: number; p50: number; p95: number; p99: number; max: number };
  errors: number;
  errorSamples: string[];
  /** Transport errors and timeouts as autocannon counts them. */
  socketErrors: number;
  timeouts: number;
  statuses: Record<string, number>;
  /** Average response size (headers and body), bytes. */
  bytesPerResponse: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx];
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

export async function runLoad(
  baseUrl: string,
  req: LoadRequest,
  options: { durationS: number; connections: number; timeoutS?: number },
): Promise<LoadResult> {
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  const samples = new Map<string, number>();
  let errors = 0;
  let ok = 0;

  const next = req.next;
  // autocannon replaces its default setupRequest with whatever key is given, even undefined.
  const setup: Pick<autocannon.Request, 'setupRequest'> = next
    ? {
        setupRequest: (data) => {
          const n = next();
          return {
            ...data,
            ...(n.body !== undefined ? { body: n.body } : {}),
            ...(n.path !== undefined ? { path: n.path } : {}),
            headers: { ...data.headers, ...n.headers },
          };
        },
      }
    : {};
  const instance = autocannon({
    url: baseUrl,
    connections: options.connections,
    duration: options.durationS,
    timeout: options.timeoutS ?? 10,
    requests: [
      {
        method: req.method,
        path: req.path,
        headers: req.headers,
        body: req.body,
        ...setup,
        onResponse: (status, body) => {
          statuses[status] = (statuses[status] ?? 0) + 1;
          const problem = req.check(status, body);
          if (problem === null) {
            ok += 1;
            return;
          }
          errors += 1;
          const key = problem.slice(0, 300);
          if (samples.size < 5 || samples.has(key)) samples.set(key, (samples.get(key) ?? 0) + 1);
        },
      },
    ],
  });
  instance.on('response', (_client: unknown, _status: number, _bytes: number, ms: number) => {
    latencies.push(ms);
  });
  const result = await instance;
  latencies.sort((a, b) => a - b);
  const durationS = result.duration || options.durationS;
  const mean = latencies.reduce((a, b) => a + b, 0) / (latencies.length || 1);
  return {
    requests: latencies.length,
    durationS,
    rps: round(latencies.length / durationS, 1),
    okRps: round(ok / durationS, 1),
    latencyMs: {
      mean: round(mean),
      p50: round(percentile(latencies, 50)),
      p95: round(percentile(latencies, 95)),
      p99: round(percentile(latencies, 99)),
      max: round(latencies[latencies.length - 1] ?? 0),
    },
    // autocannon counts timeouts among its errors.
    errors: errors + result.errors,
    errorSamples: [...samples].map(([k, n]) => `${n}× ${k}`),
    socketErrors: result.errors - result.timeouts,
    timeouts: result.timeouts,
    statuses,
    bytesPerResponse: Math.round((result.throughput.total ?? 0) / Math.max(1, latencies.length)),
  };
}

/** A response check for GraphQL: 200 and no `errors` key. */
export function graphqlCheck(status: number, body: string): string | null {
  if (status !== 200) return `HTTP ${status}: ${body.slice(0, 200)}`;
  if (body.includes('"errors":[')) {
    const m = /"message":"((?:[^"\\]|\\.)*)"/.exec(body);
    const code = /"code":"(\w+)"/.exec(body);
    return `GraphQL error ${code?.[1] ?? ''}: ${m?.[1] ?? body.slice(0, 200)}`;
  }
  if (!body.startsWith('{"data":')) return `unexpected body: ${body.slice(0, 200)}`;
  return null;
}
