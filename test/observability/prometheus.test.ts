import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AppServer } from '../../src/app';
import { createTestDatabase, type TestDatabase } from '../helpers/pg';
import { systemBinary } from '../helpers/system-binary';
import { captureLog, parseSamples, scrape, startTestServer, waitFor } from './helpers';
import {
  ROOT,
  alertExpressions,
  dashboardExpressions,
  parseExpression,
  withGrafanaVariables,
} from './promql';

/**
 * Debian's prometheus package provides both binaries. Without them the tests that run them are
 * skipped with a loud notice and the install command, and under CI=true they fail.
 */
const INSTALL = 'apt-get install -y prometheus';
const promtool = systemBinary('promtool', ['promtool'], INSTALL);
const prometheusBinary = systemBinary('prometheus', ['prometheus'], INSTALL);

const TOKEN = 'prometheus-scrape-token-0123456789';

describe('alert rules under promtool', () => {
  promtool.test('promtool check rules accepts monitoring/alerts.yml', () => {
    const result = spawnSync(promtool.path!, ['check', 'rules', 'monitoring/alerts.yml'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(`${result.stdout}${result.stderr}`).toContain('SUCCESS');
    expect(result.status).toBe(0);
  });

  promtool.test('promtool test rules passes monitoring/alerts.test.yml', () => {
    const result = spawnSync(promtool.path!, ['test', 'rules', 'alerts.test.yml'], {
      cwd: path.join(ROOT, 'monitoring'),
      encoding: 'utf8',
    });
    expect(`${result.stdout}${result.stderr}`).toContain('SUCCESS');
    expect(result.status).toBe(0);
  });

  test('the unit tests cover every critical alert', () => {
    const rules = alertExpressions().map((a) => a.where.replace('alert ', ''));
    const yaml = spawnSync('cat', ['monitoring/alerts.yml', 'monitoring/alerts.test.yml'], {
      cwd: ROOT,
      encoding: 'utf8',
    }).stdout;
    const [alerts, tests] = yaml.split('# Unit tests for monitoring/alerts.yml');
    const critical = rules.filter((name) =>
      new RegExp(`alert: ${name}\\n(?:(?!- alert:)[\\s\\S])*?severity: critical`).test(alerts),
    );
    expect(critical.sort()).toEqual(
      [
        'ApiErrorRateHigh',
        'CrossTenantAccessAttempt',
        'DatabasePoolSaturated',
        'WebhookSignatureFailuresHigh',
      ].sort(),
    );
    for (const name of critical) expect(tests).toContain(`alertname: ${name}`);
  });

  test('every rule has a severity, a summary, a description and a runbook section that exists', () => {
    const alerts = spawnSync('cat', ['monitoring/alerts.yml'], {
      cwd: ROOT,
      encoding: 'utf8',
    }).stdout;
    const runbook = spawnSync('cat', ['docs/runbook.md'], { cwd: ROOT, encoding: 'utf8' }).stdout;
    const anchors = new Set(
      [...runbook.matchAll(/^#+\s+(.+)$/gm)].map((m) =>
        m[1]
          .trim()
          .toLowerCase()
          .replace(/[^a-z0-9 -]/g, '')
          .replace(/ /g, '-'),
      ),
    );
    const blocks = alerts.split(/\n\s*- alert: /).slice(1);
    expect(blocks).toHaveLength(alertExpressions().length);
    for (const block of blocks) {
      const name = block.split('\n')[0].trim();
      expect({ name, ok: /severity: (critical|high|medium)\n/.test(block) }).toEqual({
        name,
        ok: true,
      });
      expect(block).toMatch(/summary: '.+'/);
      expect(block).toMatch(/description: '.+'/);
      const url = /runbook_url: 'docs\/runbook\.md#([a-z0-9-]+)'/.exec(block);
      expect({ name, anchor: url?.[1] }).toEqual({ name, anchor: name.toLowerCase() });
      expect({ name, inRunbook: anchors.has(url![1]) }).toEqual({ name, inRunbook: true });
    }
  });
});

describe('the PromQL reader used below', () => {
  test('finds metric names and label matchers, not functions, keywords or durations', () => {
    expect(
      parseExpression(
        'sum by (path) (increase(a_total{x="1",y!~"a|b"}[10m])) > 0 or sum by (path) (a_total unless a_total offset 10m) and on () histogram_quantile(0.9, sum by (le) (rate(h_bucket[$__rate_interval]))) or vector(0)',
      ),
    ).toEqual({
      selectors: [
        { name: 'a_total', matchers: ['x', 'y'] },
        { name: 'a_total', matchers: [] },
        { name: 'a_total', matchers: [] },
        { name: 'h_bucket', matchers: [] },
      ],
      grouping: ['path', 'path', 'le'],
    });
  });
});

prometheusBinary.describe('a real Prometheus scraping the real server', () => {
  let t: TestDatabase;
  let server: AppServer;
  let prometheus: ChildProcess | undefined;
  let prometheusUrl: string;
  let workDir: string;
  let output = '';

  beforeAll(async () => {
    const executable = prometheusBinary.path!;
    t = await createTestDatabase();
    // Rows so the database-wide gauges have series to show.
    const [company] = await t
      .superuser('companies')
      .insert({ name: 'A', slug: 'a-co' })
      .returning('id');
    await t.superuser('callback_requests').insert({
      company_id: company.id,
      phone_e164: '+491701234567',
    });
    // Dead, so the server's webhook worker leaves it alone.
    await t.superuser('webhook_events').insert({
      provider: 'retell',
      event_type: 'call_started',
      dedupe_key: 'k1',
      payload_raw: '{}',
      payload: {},
      status: 'dead',
    });
    server = await startTestServer(t, captureLog('silent'), { metricsToken: TOKEN });
    const target = new URL(server.url).host;

    workDir = mkdtempSync(path.join(os.tmpdir(), 'prometheus-'));
    const port = await freePort();
    prometheusUrl = `http://127.0.0.1:${port}`;
    writeFileSync(
      path.join(workDir, 'prometheus.yml'),
      [
        'global:',
        '  scrape_interval: 1s',
        '  scrape_timeout: 1s',
        '  evaluation_interval: 1s',
        'rule_files:',
        `  - ${JSON.stringify(path.join(ROOT, 'monitoring/alerts.yml'))}`,
        'scrape_configs:',
        '  - job_name: tenant-voice-graphql',
        '    metrics_path: /metrics',
        '    authorization:',
        '      type: Bearer',
        `      credentials: ${JSON.stringify(TOKEN)}`,
        '    static_configs:',
        `      - targets: [${JSON.stringify(target)}]`,
        '  - job_name: wrong-token',
        '    metrics_path: /metrics',
        '    authorization:',
        '      type: Bearer',
        '      credentials: "not-the-token"',
        '    static_configs:',
        `      - targets: [${JSON.stringify(target)}]`,
        '',
      ].join('\n'),
    );
    prometheus = spawn(
      executable,
      [
        `--config.file=${path.join(workDir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${path.join(workDir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prometheus.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    prometheus.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await waitFor(
      'Prometheus to be ready',
      async () => {
        if (prometheus?.exitCode !== null) throw new Error(`prometheus exited: ${output}`);
        const res = await fetch(`${prometheusUrl}/-/ready`);
        return res.ok ? true : undefined;
      },
      30_000,
    );
  });

  afterAll(async () => {
    if (prometheus && prometheus.exitCode === null) {
      const exited = new Promise((resolve) => prometheus!.once('exit', resolve));
      prometheus.kill('SIGTERM');
      const timer = setTimeout(() => prometheus!.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    if (workDir) rmSync(workDir, { recursive: true, force: true });
    await server?.close();
    await t?.drop();
  });

  const api = async <T>(pathAndQuery: string): Promise<T> => {
    const res = await fetch(`${prometheusUrl}${pathAndQuery}`);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`${pathAndQuery}: ${body.error}`);
    return body.data;
  };
  const query = (expr: string) =>
    api<{ result: Array<{ metric: Record<string, string>; value: [number, string] }> }>(
      `/api/v1/query?query=${encodeURIComponent(expr)}`,
    );

  interface Target {
    labels: Record<string, string>;
    health: string;
    lastError: string;
  }

  test('scrapes the server with the token (target up); a wrong token is refused', async () => {
    const targets = await waitFor('both targets to be scraped', async () => {
      const data = await api<{ activeTargets: Target[] }>('/api/v1/targets?state=active');
      const byJob = new Map(data.activeTargets.map((tg) => [tg.labels.job, tg]));
      const good = byJob.get('tenant-voice-graphql');
      const bad = byJob.get('wrong-token');
      return good?.health === 'up' && bad?.health === 'down' ? { good, bad } : undefined;
    });
    expect(targets.good.lastError).toBe('');
    expect(targets.bad.lastError).toMatch(/401/);
  });

  test('the metrics can be queried through the Prometheus API', async () => {
    for (let i = 0; i < 5; i++) await fetch(`${server.url}/healthz`);
    const requests = await waitFor('the healthz requests in Prometheus', async () => {
      const { result } = await query(
        'sum(app_http_request_duration_seconds_count{job="tenant-voice-graphql",route="/healthz"})',
      );
      const value = Number(result[0]?.value[1] ?? 0);
      return value >= 5 ? value : undefined;
    });
    expect(requests).toBeGreaterThanOrEqual(5);
    const pool = await query('app_db_pool_connections_max{job="tenant-voice-graphql"}');
    expect(pool.result[0].value[1]).toBe('20');
    const open = await query('sum(app_callback_requests_open{job="tenant-voice-graphql"})');
    expect(open.result[0].value[1]).toBe('1');
    const inbox = await query(
      'app_webhook_inbox_events{job="tenant-voice-graphql",provider="retell",status="dead"}',
    );
    expect(inbox.result[0].value[1]).toBe('1');
  });

  test('Prometheus loaded every alert rule and evaluates them without errors', async () => {
    const rules = await waitFor('the rules to be evaluated', async () => {
      const data = await api<{
        groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string }> }>;
      }>('/api/v1/rules?type=alert');
      const all = data.groups.flatMap((g) => g.rules);
      return all.length > 0 && all.every((r) => r.health !== 'unknown') ? all : undefined;
    });
    expect(rules.map((r) => r.name).sort()).toEqual(
      alertExpressions()
        .map((a) => a.where.replace('alert ', ''))
        .sort(),
    );
    for (const rule of rules) {
      expect({ rule: rule.name, health: rule.health, error: rule.lastError ?? '' }).toEqual({
        rule: rule.name,
        health: 'ok',
        error: '',
      });
    }
    // Nothing is wrong with a quiet test server, so nothing fires.
    const firing = await query('ALERTS{alertstate="firing"}');
    expect(firing.result).toEqual([]);
  });

  test('every dashboard query is valid PromQL that Prometheus evaluates', async () => {
    for (const { where, expr } of dashboardExpressions()) {
      const res = await fetch(
        `${prometheusUrl}/api/v1/query?query=${encodeURIComponent(withGrafanaVariables(expr))}`,
      );
      const body = (await res.json()) as { status: string; error?: string };
      expect({ where, expr, status: body.status, error: body.error }).toEqual({
        where,
        expr,
        status: 'success',
        error: undefined,
      });
    }
  });

  test('every metric and label the alerts and dashboards use is one the server exports', async () => {
    // Traffic, so that labelled series exist: probes, a 404, a database read.
    await fetch(`${server.url}/healthz`);
    await fetch(`${server.url}/readyz`);
    await fetch(`${server.url}/no-such-route`);
    const graphql = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'query Probe { __typename }' }),
    });
    expect(graphql.status).toBe(200);
    const text = await scrape(server.url, TOKEN);
    const families = new Map<string, string>();
    for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) families.set(m[1], m[2]);
    const sampled = new Set(parseSamples(text).map((s) => s.name));
    const registry = server.deps.metrics.registry;

    /** The exported family a used name belongs to, and the labels it may be matched on. */
    const resolve = (name: string): { family: string; labels: string[] } | undefined => {
      if (name === 'up') return { family: name, labels: [] };
      if (name === 'ALERTS')
        return { family: name, labels: ['alertname', 'alertstate', 'severity'] };
      const histogram = /^(.*)_(bucket|sum|count)$/.exec(name);
      const family =
        families.get(name) !== undefined
          ? name
          : histogram && families.get(histogram[1]) === 'histogram'
            ? histogram[1]
            : undefined;
      if (!family) return undefined;
      const metric = registry.getSingleMetric(family) as unknown as { labelNames?: string[] };
      const labels = [...(metric?.labelNames ?? [])];
      if (histogram && family !== name && histogram[2] === 'bucket') labels.push('le');
      return { family, labels };
    };

    const problems: string[] = [];
    const used = new Set<string>();
    for (const { where, expr } of [...alertExpressions(), ...dashboardExpressions()]) {
      const { selectors, grouping } = parseExpression(expr);
      const allowed = new Set(['job', 'instance']);
      for (const selector of selectors) {
        used.add(selector.name);
        const found = resolve(selector.name);
        if (!found) {
          problems.push(`${where}: ${selector.name} is not exported`);
          continue;
        }
        for (const label of found.labels) allowed.add(label);
        const own = new Set([...found.labels, 'job', 'instance']);
        for (const label of selector.matchers) {
          if (!own.has(label)) problems.push(`${where}: ${selector.name} has no label ${label}`);
        }
      }
      for (const label of grouping) {
        if (!allowed.has(label)) problems.push(`${where}: no metric in it has the label ${label}`);
      }
    }
    expect(problems).toEqual([]);
    expect(used.size).toBeGreaterThan(30);

    // The server's own series have samples after the traffic above; the counters that other
    // parts of the server increment may have none yet, but are declared.
    const withSamples = [
      'app_http_request_duration_seconds_bucket',
      'app_http_request_duration_seconds_count',
      'app_http_requests_in_flight',
      'app_graphql_operation_duration_seconds_bucket',
      'app_graphql_operation_duration_seconds_count',
      'app_db_statement_duration_seconds_bucket',
      'app_db_statements_per_request_bucket',
      'app_db_statements_per_request_count',
      'app_db_slow_statements_total',
      'app_db_pool_connections_in_use',
      'app_db_pool_acquires_pending',
      'app_db_pool_connections_max',
      'app_callback_requests_open',
      'app_callback_requests_overdue',
      'app_webhook_inbox_events',
      'app_webhook_inbox_oldest_age_seconds',
      'app_companies',
      'app_metrics_collector_errors_total',
      'app_super_admin_tenant_switches_total',
      'app_calls_converted_total',
      'process_resident_memory_bytes',
      'process_cpu_seconds_total',
      'nodejs_eventloop_lag_p99_seconds',
      'nodejs_heap_size_used_bytes',
    ];
    for (const name of withSamples)
      expect({ name, sampled: sampled.has(name) }).toEqual({ name, sampled: true });
  });
});

async function freePort(): Promise<number> {
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}
