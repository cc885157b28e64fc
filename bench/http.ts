/** Small HTTP helpers for set-up calls (sign-in, introspection, metrics scrapes). */

export interface GraphQLResponse<T = Record<string, unknown>> {
  data?: T | null;
  errors?: Array<{ message: string; extensions?: { code?: string } }>;
}

export async function graphql<T = Record<string, unknown>>(
  baseUrl: string,
  query: string,
  variables: Record<string, unknown> = {},
  token?: string,
): Promise<GraphQLResponse<T>> {
  const res = await fetch(`${baseUrl}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  try {
    return JSON.parse(text) as GraphQLResponse<T>;
  } catch {
    throw new Error(`GraphQL answered ${res.status}: ${text.slice(0, 300)}`);
  }
}

export async function login(baseUrl: string, email: string, password: string): Promise<string> {
  const res = await graphql<{ login: { accessToken: string } }>(
    baseUrl,
    'mutation Login($email: String!, $password: String!) { login(input: {email: $email, password: $password}) { accessToken } }',
    { email, password },
  );
  const token = res.data?.login?.accessToken;
  if (!token) throw new Error(`login failed: ${JSON.stringify(res.errors ?? res)}`);
  return token;
}

export async function scrapeMetrics(baseUrl: string, token: string): Promise<string> {
  const res = await fetch(`${baseUrl}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  if (!res.ok) throw new Error(`/metrics answered ${res.status}`);
  return res.text();
}

export interface HistogramTotals {
  sum: number;
  count: number;
}

/**
 * Sum and count of a Prometheus histogram, over the series whose labels include `labels`
 * (e.g. {route: '/graphql'}); all series when `labels` is empty.
 */
export function histogramTotals(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): HistogramTotals {
  const out = { sum: 0, count: 0 };
  const line = new RegExp(`^${name}_(sum|count)(?:\\{([^}]*)\\})? ([0-9.eE+-]+|NaN)$`);
  for (const raw of text.split('\n')) {
    const m = line.exec(raw);
    if (!m) continue;
    const found: Record<string, string> = {};
    for (const pair of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
      found[pair[1]] = pair[2];
    if (!Object.entries(labels).every(([k, v]) => found[k] === v)) continue;
    const value = Number(m[3]);
    if (!Number.isFinite(value)) continue;
    if (m[1] === 'sum') out.sum += value;
    else out.count += value;
  }
  return out;
}

/** A request that must answer with a 2xx; returns the status and body text. */
export async function request(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; body: string }> {
  const res = await fetch(url, init);
  return { status: res.status, body: await res.text() };
}

export async function waitFor(
  check: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
  abort?: () => string | undefined,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const reason = abort?.();
    if (reason) throw new Error(`${what}: ${reason}`);
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > until) throw new Error(`${what}: not ready after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Sum and count of a histogram per value of one label (e.g. per route). */
export function histogramByLabel(
  text: string,
  name: string,
  label: string,
): Map<string, HistogramTotals> {
  const out = new Map<string, HistogramTotals>();
  const line = new RegExp(`^${name}_(sum|count)\\{([^}]*)\\} ([0-9.eE+-]+)$`);
  for (const raw of text.split('\n')) {
    const m = line.exec(raw);
    if (!m) continue;
    const value = new RegExp(`(?:^|,)${label}="((?:[^"\\\\]|\\\\.)*)"`).exec(m[2])?.[1] ?? '';
    const entry = out.get(value) ?? { sum: 0, count: 0 };
    if (m[1] === 'sum') entry.sum += Number(m[3]);
    else entry.count += Number(m[3]);
    out.set(value, entry);
  }
  return out;
}
