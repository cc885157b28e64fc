import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createMetrics } from '../../src/observability/metrics';
import { ROOT, alertExpressions } from './promql';

const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

/** The cells of every Markdown table row of a document. */
function tableRows(markdown: string): string[][] {
  return markdown
    .split('\n')
    .filter((line) => /^\|.*\|\s*$/.test(line) && !/^\|\s*-/.test(line))
    .map((line) =>
      line
        .slice(1, line.lastIndexOf('|'))
        .split('|')
        .map((cell) => cell.trim()),
    );
}

describe('docs/observability.md and the alert rule tests keep up with the code', () => {
  test('every app_ metric the server declares is documented with its type and each of its labels', async () => {
    const metrics = createMetrics();
    const declared = (await metrics.registry.getMetricsAsJSON()).filter((m) =>
      m.name.startsWith('app_'),
    );
    expect(declared.length).toBeGreaterThan(40);
    const rows = tableRows(read('docs/observability.md'));
    const problems: string[] = [];
    for (const metric of declared) {
      const row = rows.find((cells) => cells[0]?.includes(`\`${metric.name}\``));
      if (!row) {
        problems.push(`${metric.name} is not in a metrics table`);
        continue;
      }
      if (row[1] !== String(metric.type))
        problems.push(`${metric.name} is documented as ${row[1]}`);
      const labels = (
        metrics.registry.getSingleMetric(metric.name) as unknown as { labelNames?: string[] }
      ).labelNames;
      for (const label of labels ?? []) {
        if (!row[2]?.includes(`\`${label}\``))
          problems.push(`${metric.name}: label ${label} is not documented`);
      }
    }
    expect(problems).toEqual([]);
  });

  test('every webhook outcome the code counts is documented', () => {
    const counted = new Set<string>();
    // Literal outcomes counted by the inbox router (rejected deliveries)...
    for (const m of read('src/webhooks/router.ts').matchAll(
      /webhookProcessed\.inc\(\{[^}]*outcome: '([a-z_]+)'/g,
    ))
      counted.add(m[1]);
    // ...and every EventOutcome of the worker but 'lost', which it does not count.
    const union = /export type EventOutcome =([\s\S]*?);\n/.exec(
      read('src/webhooks/worker.ts'),
    )![1];
    for (const m of union.matchAll(/\|\s*'([a-z_]+)'/g)) if (m[1] !== 'lost') counted.add(m[1]);
    expect([...counted]).toEqual(expect.arrayContaining(['rejected', 'interrupted', 'processed']));
    const row = tableRows(read('docs/observability.md')).find((cells) =>
      cells[0]?.includes('`app_webhook_events_processed_total`'),
    );
    for (const outcome of counted)
      expect({ outcome, row: row?.[3] }).toEqual({
        outcome,
        row: expect.stringContaining(`\`${outcome}\``),
      });
  });

  test('every alert rule has a promtool unit test', () => {
    const tests = read('monitoring/alerts.test.yml');
    const untested = alertExpressions()
      .map((a) => a.where.replace('alert ', ''))
      .filter((name) => !new RegExp(`alertname: ${name}\\n`).test(tests));
    expect(untested).toEqual([]);
  });
});
