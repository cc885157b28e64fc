import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { waitFor } from './http';

/** Child processes (the servers and the floor endpoint) and what /proc says about them. */

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

export interface ProcStats {
  /** Resident set size now, MB. */
  rssMb: number;
  /** Peak resident set size over the process's life (VmHWM), MB. */
  hwmMb: number;
  /** User + system CPU time used so far, ms. */
  cpuMs: number;
}

export function procStats(pid: number): ProcStats | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) =>
      Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start at field 3.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
    return {
      rssMb: kb('VmRSS') / 1024,
      hwmMb: kb('VmHWM') / 1024,
      cpuMs: (ticks * 1000) / ticksPerSecond(),
    };
  } catch {
    return undefined;
  }
}

/** Whole-machine CPU counters, for the busy share during a run (other work on the machine shows). */
export function machineCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = v[3] + (v[4] ?? 0);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface Child {
  name: string;
  pid: number;
  url: string;
  logFile: string;
  stats(): ProcStats | undefined;
  stop(): Promise<void>;
}

/** The environment every child starts from: nothing from ours but the basics. */
function baseEnv(): Record<string, string> {
  const keep = ['PATH', 'HOME', 'LANG', 'TZ', 'TMPDIR', 'USER'];
  const out: Record<string, string> = {};
  for (const k of keep) if (process.env[k] !== undefined) out[k] = process.env[k]!;
  return out;
}

/**
 * Starts `node <script>` with `env` (plus PORT and HOST), logs to `logFile`, and waits until
 * `readyPath` answers 200.
 */
export async function startChild(options: {
  name: string;
  script: string;
  env: Record<string, string>;
  logFile: string;
  readyPath: string;
  timeoutMs?: number;
  /** Node flags, e.g. --cpu-prof. */
  nodeArgs?: string[];
}): Promise<Child> {
  const port = await freePort();
  const fd = openSync(options.logFile, 'a');
  let proc: ChildProcess;
  try {
    proc = spawn(process.execPath, [...(options.nodeArgs ?? []), options.script], {
      env: { ...baseEnv(), ...options.env, PORT: String(port), HOST: '127.0.0.1' },
      stdio: ['ignore', fd, fd],
    });
  } finally {
    closeSync(fd);
  }
  let exited: string | undefined;
  const exitPromise = new Promise<void>((resolve) => {
    proc.once('exit', (code, signal) => {
      exited = `exited with ${signal ?? code}`;
      resolve();
    });
  });
  const url = `http://127.0.0.1:${port}`;
  const logTail = () => {
    try {
      return readFileSync(options.logFile, 'utf8').split('\n').slice(-20).join('\n');
    } catch {
      return '';
    }
  };
  try {
    await waitFor(
      async () => (await fetch(`${url}${options.readyPath}`)).status === 200,
      options.timeoutMs ?? 90_000,
      `${options.name} did not start`,
      () => (exited ? `${exited}\n${logTail()}` : undefined),
    );
  } catch (err) {
    proc.kill('SIGKILL');
    throw err;
  }
  const pid = proc.pid!;
  return {
    name: options.name,
    pid,
    url,
    logFile: options.logFile,
    stats: () => procStats(pid),
    stop: async () => {
      if (exited) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      await exitPromise;
      clearTimeout(timer);
    },
  };
}

/** Samples the RSS of some processes every `intervalMs` and keeps the maximum. */
export class RssSampler {
  private timer?: NodeJS.Timeout;
  readonly peakMb = new Map<number, number>();

  constructor(
    private readonly pids: number[],
    private readonly intervalMs = 200,
  ) {}

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.sample();
  }

  private sample(): void {
    for (const pid of this.pids) {
      const s = procStats(pid);
      if (s) this.peakMb.set(pid, Math.max(this.peakMb.get(pid) ?? 0, s.rssMb));
    }
  }
}
