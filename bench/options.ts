import { DEFAULT_DATABASE_URL } from './database';

/** Options from argv (`--scales 1,10` or `--scales=1,10`) or the environment (BENCH_SCALES=1,10). */
export interface BenchOptions {
  scales: number[];
  /** Seconds of measured load per operation. */
  durationS: number;
  /** Seconds of unmeasured load before each operation. */
  warmupS: number;
  connections: number;
  /** Only these operations (names as in the report); all when empty. */
  ops: string[];
  /** Rounds of the floor/baseline comparison, alternating the order. */
  rounds: number;
  databaseUrl: string;
  /** Connections in each server's pool and the floor's. */
  poolMax: number;
  /** Where the report goes. */
  outDir: string;
  /** Keep the databases (for debugging); they are dropped otherwise. */
  keepDb: boolean;
  /** Skip the floor and the switched-off servers. */
  baselines: boolean;
  /** Run PostGraphile 4 (bench/peer) as a peer target. */
  peer: boolean;
  /** Path of the voice agent's check-availability function, when not one of the probed ones. */
  voicePath?: string;
  /** Companies to spread the rows over; default grows with the scale. */
  companies?: number;
  /** Run the production-mode server with --cpu-prof and summarise where its CPU went. */
  profile: boolean;
}

export const HELP = `npm run bench -- [options]

  --scales 1,10,100,1000   scale factors of the old system's volumes (117 appointments, 60 customers, 100 calls)
  --duration 5             seconds of measured load per operation
  --warmup 1               seconds of unmeasured load before each operation
  --connections 10         concurrent keep-alive connections
  --ops a,b                only these operations (see bench/README.md for the names)
  --rounds 1               rounds of the floor/baseline comparison (order alternates)
  --pool 10                database pool size of each server and of the floor
  --companies N            companies to spread the rows over (default 10..100, growing with the scale)
  --voice-path /api/...    path of the voice agent's check-availability function
  --out bench/results      where the report is written
  --profile                CPU-profile the production-mode server (node --cpu-prof) and report the top functions
  --keep-db                do not drop the benchmark databases
  --no-baselines           skip the floor and the shield-off / tenant-filter-off servers
  --no-peer                skip the PostGraphile 4 peer (bench/peer, installed with npm ci when missing)

Every option can also be given as an environment variable: BENCH_SCALES, BENCH_DURATION, ...
DATABASE_URL names the Postgres server (default ${DEFAULT_DATABASE_URL}); a superuser is needed.`;

export function parseOptions(
  argv: string[],
  env: NodeJS.ProcessEnv,
  defaultOut: string,
): BenchOptions {
  const args = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}\n\n${HELP}`);
    const eq = a.indexOf('=');
    if (eq > 0) args.set(a.slice(2, eq), a.slice(eq + 1));
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) args.set(a.slice(2), argv[++i]);
    else args.set(a.slice(2), 'true');
  }
  const get = (name: string): string | undefined =>
    args.get(name) ?? env[`BENCH_${name.toUpperCase().replace(/-/g, '_')}`];
  const num = (name: string, fallback: number, min: number, max: number): number => {
    const raw = get(name);
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < min || n > max) {
      throw new Error(`--${name} must be a number from ${min} to ${max} (got "${raw}")`);
    }
    return n;
  };
  const list = (name: string): string[] =>
    (get(name) ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const flag = (name: string) => ['1', 'true', 'yes'].includes((get(name) ?? '').toLowerCase());

  if (args.has('help')) throw new Error(HELP);
  const scales = list('scales').map(Number);
  if (scales.some((s) => !Number.isFinite(s) || s <= 0 || s > 10000)) {
    throw new Error('--scales must be positive numbers up to 10000');
  }
  const companies = get('companies');
  return {
    scales: scales.length ? scales : [1, 10, 100, 1000],
    durationS: num('duration', 5, 1, 600),
    warmupS: num('warmup', 1, 0, 60),
    connections: num('connections', 10, 1, 1000),
    ops: list('ops'),
    rounds: num('rounds', 1, 1, 10),
    databaseUrl: env.DATABASE_URL || DEFAULT_DATABASE_URL,
    poolMax: num('pool', 10, 1, 200),
    outDir: get('out') ?? defaultOut,
    keepDb: flag('keep-db'),
    baselines: !flag('no-baselines'),
    peer: !flag('no-peer'),
    voicePath: get('voice-path'),
    companies: companies ? num('companies', 10, 1, 1000) : undefined,
    profile: flag('profile'),
  };
}
