import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';

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
