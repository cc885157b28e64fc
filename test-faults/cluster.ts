import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import {
  chownSync,
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../test/helpers/pgbouncer';

export const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';

/** Runs a Postgres binary as `postgres` when we are root (Postgres refuses to run as root). */
function pgCommand(bin: string, args: string[]): [string, string[]] {
  const path = join(PG_BIN, bin);
  return userInfo().uid === 0 ? ['runuser', ['-u', 'postgres', '--', path, ...args]] : [path, args];
}

function run(bin: string, args: string[]): string {
  const [cmd, argv] = pgCommand(bin, args);
  return execFileSync(cmd, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function postgresIds(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('no postgres user');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/**
 * A Postgres cluster of its own in a temporary directory on a free loopback port: it can be
 * restarted and stopped without touching any other server on the machine.
 */
export class Cluster {
  readonly dir: string;
  readonly data: string;
  port = 0;

  private constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'faults-pg-'));
    this.data = join(this.dir, 'data');
    if (userInfo().uid === 0) {
      const { uid, gid } = postgresIds();
      chownSync(this.dir, uid, gid);
    }
  }

  static available(): boolean {
    return existsSync(join(PG_BIN, 'initdb')) && existsSync(join(PG_BIN, 'pg_ctl'));
  }

  static async create(): Promise<Cluster> {
    const c = new Cluster();
    c.port = await freePort();
    run('initdb', ['-D', c.data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync']);
    c.start();
    return c;
  }

  url(database = 'postgres', user = 'postgres'): string {
    return `postgres://${user}@127.0.0.1:${this.port}/${database}`;
  }

  start(): void {
    run('pg_ctl', [
      '-D',
      this.data,
      '-l',
      join(this.dir, 'postgres.log'),
      '-o',
      `-p ${this.port} -c listen_addresses=127.0.0.1 -k ${this.dir} -c fsync=off -c max_connections=200`,
      '-w',
      '-t',
      '60',
      'start',
    ]);
  }

  stop(): void {
    run('pg_ctl', ['-D', this.data, '-m', 'fast', '-w', 'stop']);
  }

  /** A fast shutdown and a start (pg_ctl restart would not keep the log file). */
  restart(): void {
    this.stop();
    this.start();
  }

  destroy(): void {
    try {
      this.stop();
    } catch {
      // already stopped
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A built server (`dist/src/main.js`) on a fixed port, so it can be killed and started again. */
export class ServerProcess {
  private proc?: ChildProcess;
  private exited = true;

  constructor(
    readonly port: number,
    private readonly env: Record<string, string>,
    private readonly logFile: string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(timeoutMs = 60_000): Promise<number> {
    const started = Date.now();
    const fd = openSync(this.logFile, 'a');
    try {
      this.proc = spawn(process.execPath, ['dist/src/main.js'], {
        env: {
          PATH: process.env.PATH ?? '',
          ...this.env,
          PORT: String(this.port),
          HOST: '127.0.0.1',
        },
        stdio: ['ignore', fd, fd],
      });
    } finally {
      closeSync(fd);
    }
    this.exited = false;
    this.proc.once('exit', () => {
      this.exited = true;
    });
    for (;;) {
      try {
        if ((await fetch(`${this.url}/healthz`)).status < 500) break;
      } catch {
        // not listening yet
      }
      if (this.exited)
        throw new Error(`server exited: ${readFileSync(this.logFile, 'utf8').slice(-2000)}`);
      if (Date.now() - started > timeoutMs) throw new Error('server did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    return Date.now() - started;
  }

  /** The process is up (started and not exited). */
  get running(): boolean {
    return !this.exited;
  }

  kill9(): void {
    this.proc?.kill('SIGKILL');
  }

  async stop(): Promise<void> {
    if (!this.proc || this.exited) return;
    const gone = new Promise<void>((r) => this.proc!.once('exit', () => r()));
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc?.kill('SIGKILL'), 15_000);
    await gone;
    clearTimeout(timer);
  }
}
