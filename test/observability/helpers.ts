import { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { startServer, type AppServer } from '../../src/app';
import { testConfig, type Config } from '../../src/config';
import type { AppDeps } from '../../src/context/deps';
import { createLogger } from '../../src/observability/logger';
import type { TestDatabase } from '../helpers/pg';
import { testDeps as baseDeps } from '../helpers/deps';

/** A logger whose JSON lines are kept in memory for assertions. */
export interface CapturedLog {
  logger: Logger;
  lines: Array<Record<string, unknown>>;
  raw: string[];
}

export function captureLog(level = 'debug'): CapturedLog {
  const lines: Array<Record<string, unknown>> = [];
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        raw.push(line);
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      callback();
    },
  });
  return { logger: createLogger(level, false, stream), lines, raw };
}

/** Deps on the test database, logging into memory. */
export function testDeps(t: TestDatabase, log: CapturedLog, config: Partial<Config> = {}): AppDeps {
  return baseDeps(t.db, {
    config: testConfig({ port: 0, databaseUrl: t.url, ...config }),
    logger: log.logger,
  });
}

export async function startTestServer(
  t: TestDatabase,
  log: CapturedLog,
  config: Partial<Config> = {},
): Promise<AppServer> {
  return startServer(testDeps(t, log, config));
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text exposition format into samples (comments skipped). */
export function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1]] = pair[2];
    }
    samples.push({ name: match[1], labels, value: Number(match[4]) });
  }
  return samples;
}

/** The value of the one sample with this name whose labels include `labels`, else undefined. */
export function sampleValue(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const found = parseSamples(text).filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  if (found.length === 0) return undefined;
  return found.reduce((sum, s) => sum + s.value, 0);
}

export async function scrape(url: string, token?: string): Promise<string> {
  const res = await fetch(`${url}/metrics`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  if (res.status !== 200) throw new Error(`scrape answered ${res.status}`);
  return res.text();
}

/** Waits until `check` returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out waiting for ${what}${lastError instanceof Error ? `: ${lastError.message}` : ''}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
