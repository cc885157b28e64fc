import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../helpers/pg';

/**
 * What the HTTP observability middleware and the SQL hooks cost per request, measured in one run
 * against the same routes without them. The server runs in a child process (overhead-server.ts),
 * so its CPU time is the server's alone; requests are sequential over keep-alive, rounds are
 * interleaved so drift on a shared machine hits every variant alike, and the median round counts.
 */
// Enough for stable medians; the suite shares two cores with other test files.
const REQUESTS_PER_ROUND = 400;
const ROUNDS = 5;

/** Runs a TypeScript file in plain Node: each module is transpiled as it is required. */
const TS_LOADER = `
const ts = require('typescript');
const fs = require('fs');
require.extensions['.ts'] = (module, filename) => {
  const out = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
    fileName: filename,
    compilerOptions: {
      module: ts.ModuleKind.CommonJS,
      target: ts.ScriptTarget.ES2022,
      esModuleInterop: true,
      experimentalDecorators: true,
      emitDecoratorMetadata: true,
    },
  });
  module._compile(out.outputText, filename);
};
require(process.argv[1]);
`;

let t: TestDatabase;
let child: ChildProcess;
let ports: { bare: number; observed: number; control: number };

beforeAll(async () => {
  t = await createTestDatabase();
  child = spawn(process.execPath, ['-e', TS_LOADER, path.join(__dirname, 'overhead-server.ts')], {
    env: { ...process.env, DATABASE_URL: t.url, NODE_ENV: 'test' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  ports = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]) as typeof ports);
    });
    child.once('exit', (code) => reject(new Error(`overhead server exited with ${code}`)));
  });
});

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  await t.drop();
});

interface Round {
  wallMs: number;
  serverCpuMs: number;
}

const cpuOf = async (what: string) => {
  const res = await fetch(`http://127.0.0.1:${ports.control}/${what}`);
  const usage = (await res.json()) as { user: number; system: number };
  return usage.user + usage.system;
};

async function round(mode: 'bare' | 'observed', route: string): Promise<Round> {
  const url = `http://127.0.0.1:${ports[mode]}${route}`;
  const cpuBefore = await cpuOf(mode);
  const started = process.hrtime.bigint();
  for (let i = 0; i < REQUESTS_PER_ROUND; i++) {
    const res = await fetch(url);
    await res.arrayBuffer();
  }
  const wall = Number(process.hrtime.bigint() - started) / 1e6;
  const cpuAfter = await cpuOf('cpu');
  return {
    wallMs: wall / REQUESTS_PER_ROUND,
    serverCpuMs: (cpuAfter - cpuBefore) / 1000 / REQUESTS_PER_ROUND,
  };
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

test('per-request overhead of the HTTP observability and the SQL hooks', async () => {
  const variants: Array<[string, 'bare' | 'observed', string]> = [
    ['GET /healthz bare', 'bare', '/healthz'],
    ['GET /healthz observed (debug line, not written)', 'observed', '/healthz'],
    ['GET /ping observed (info line written)', 'observed', '/ping'],
    ['GET /db bare (select 1)', 'bare', '/db'],
    ['GET /db observed (select 1, SQL hooks, line written)', 'observed', '/db'],
  ];
  for (const [, mode, route] of variants) await round(mode, route); // warm-up
  const results = new Map<string, Round[]>();
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, mode, route] of variants) {
      results.set(name, [...(results.get(name) ?? []), await round(mode, route)]);
    }
  }
  const table = [...results].map(([name, rounds]) => ({
    name,
    wallMs: median(rounds.map((x) => x.wallMs)),
    cpuMs: median(rounds.map((x) => x.serverCpuMs)),
  }));
  const by = (i: number) => table[i];
  const delta = (x: number, y: number) => ({
    wallMs: by(x).wallMs - by(y).wallMs,
    cpuMs: by(x).cpuMs - by(y).cpuMs,
  });
  const overheads = {
    'probe route (no log line)': delta(1, 0),
    'route with its log line': delta(2, 0),
    'route with one SQL statement': delta(4, 3),
  };
  process.stdout.write(
    [
      '',
      `observability overhead, median of ${ROUNDS} rounds x ${REQUESTS_PER_ROUND} sequential requests (server in its own process):`,
      ...table.map(
        (row) =>
          `  ${row.name.padEnd(54)} ${row.wallMs.toFixed(3)} ms/request wall, ${row.cpuMs.toFixed(3)} ms/request server CPU`,
      ),
      ...Object.entries(overheads).map(
        ([name, d]) =>
          `  overhead, ${name.padEnd(30)} ${d.wallMs.toFixed(3)} ms wall, ${d.cpuMs.toFixed(3)} ms server CPU`,
      ),
      '',
    ].join('\n'),
  );
  // The figures above are the measurement. The bound only catches a gross regression (an order of
  // magnitude over the measured 0.03-0.12 ms), since timings on a shared machine vary.
  for (const d of Object.values(overheads)) expect(d.cpuMs).toBeLessThan(2);
}, 180_000);
