import { readFileSync } from 'node:fs';
import path from 'node:path';

/** A metric selector found in a PromQL expression: its name and the labels it matches on. */
export interface Selector {
  name: string;
  matchers: string[];
}

export interface ExpressionParts {
  selectors: Selector[];
  /** Label names in by/without/on/ignoring/group_left/group_right clauses. */
  grouping: string[];
}

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const BINARY_WORDS = new Set(['and', 'or', 'unless', 'offset', 'bool', 'inf', 'nan']);

/**
 * The metric selectors of a PromQL expression, without a full parser: range and subquery brackets
 * and grouping clauses are cut out first, then every identifier that is not a function call or a
 * keyword is a metric name, with the label matchers of the braces that follow it.
 */
export function parseExpression(expr: string): ExpressionParts {
  const grouping: string[] = [];
  let text = expr.replace(/\[[^\]]*\]/g, ' ');
  text = text.replace(
    /\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g,
    (_all, _keyword: string, inner: string) => {
      grouping.push(
        ...inner
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      );
      return ' ';
    },
  );
  const selectors: Selector[] = [];
  const token = /(?<![\w:.$])([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{([^}]*)\})?/g;
  for (let match = token.exec(text); match; match = token.exec(text)) {
    const [, name, braces, inner] = match;
    if (KEYWORDS.has(name) || BINARY_WORDS.has(name)) continue;
    if (!braces && /^\s*\(/.test(text.slice(token.lastIndex))) continue; // a function
    const matchers = [
      ...(inner ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*"/g),
    ].map((m) => m[1]);
    selectors.push({ name, matchers });
  }
  return { selectors, grouping };
}

export const ROOT = path.resolve(__dirname, '../..');

/** Every `expr` of the alert rules, by alert name. */
export function alertExpressions(): Array<{ where: string; expr: string }> {
  const text = readFileSync(path.join(ROOT, 'monitoring/alerts.yml'), 'utf8');
  const found: Array<{ where: string; expr: string }> = [];
  // The rules file is YAML; its shape is simple enough to read expressions line by line.
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const alert = /^\s*- alert:\s*(\S+)/.exec(lines[i]);
    if (!alert) continue;
    for (let j = i + 1; j < lines.length && !/^\s*- alert:/.test(lines[j]); j++) {
      const inline = /^(\s*)expr:\s*(.*)$/.exec(lines[j]);
      if (!inline) continue;
      if (inline[2] !== '|') {
        found.push({ where: `alert ${alert[1]}`, expr: inline[2] });
        break;
      }
      const body: string[] = [];
      const indent = inline[1].length;
      for (let k = j + 1; k < lines.length; k++) {
        const lead = /^(\s*)\S/.exec(lines[k]);
        if (lead && lead[1].length <= indent) break;
        body.push(lines[k]);
      }
      found.push({ where: `alert ${alert[1]}`, expr: body.join('\n').trim() });
      break;
    }
  }
  return found;
}

export const DASHBOARDS = ['security', 'performance', 'business', 'overview'];

interface Panel {
  title?: string;
  type?: string;
  targets?: Array<{ expr?: string }>;
  panels?: Panel[];
}

/** Every PromQL expression of the Grafana dashboards, templating queries included. */
export function dashboardExpressions(): Array<{ where: string; expr: string }> {
  const found: Array<{ where: string; expr: string }> = [];
  for (const name of DASHBOARDS) {
    const board = JSON.parse(
      readFileSync(path.join(ROOT, 'monitoring/dashboards', `${name}.json`), 'utf8'),
    ) as { panels: Panel[]; templating?: { list: Array<{ name: string; definition?: string }> } };
    const walk = (panels: Panel[]) => {
      for (const panel of panels) {
        for (const target of panel.targets ?? []) {
          if (target.expr)
            found.push({ where: `${name}.json "${panel.title}"`, expr: target.expr });
        }
        walk(panel.panels ?? []);
      }
    };
    walk(board.panels);
    for (const variable of board.templating?.list ?? []) {
      const values = /^label_values\((\w+),\s*\w+\)$/.exec(variable.definition ?? '');
      if (values) found.push({ where: `${name}.json variable ${variable.name}`, expr: values[1] });
    }
  }
  return found;
}

/** A dashboard expression as Prometheus would get it from Grafana. */
export function withGrafanaVariables(expr: string): string {
  return expr.replace(/\$__rate_interval/g, '1m').replace(/\$job/g, 'tenant-voice-graphql');
}
