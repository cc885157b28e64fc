import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { ADMIN_URL } from './pg';

/** Debian's PgBouncer; `.ci/run` installs it. */
export const PGBOUNCER_BIN = process.env.PGBOUNCER_BIN ?? '/usr/sbin/pgbouncer';
export const PGBOUNCER_INSTALL = 'apt-get install -y pgbouncer';

/**
 * Whether the PgBouncer tests can run. Without the binary they are skipped with a loud notice, or
 * fail under CI=true, where every system binary is required.
 */
export function pgbouncerAvailable(): boolean {
  if (existsSync(PGBOUNCER_BIN)) return true;
  if (process.env.CI === 'true') {
    throw new Error(
      `PgBouncer is required under CI=true but ${PGBOUNCER_BIN} is missing: ${PGBOUNCER_INSTALL}`,
    );
  }
  console.warn(
    `\n*** SKIPPED: the PgBouncer tests need ${PGBOUNCER_BIN}. Install it with: ${PGBOUNCER_INSTALL} ***\n`,
  );
  return false;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface PgBouncer {
  port: number;
  /** The URL of `database` through the pooler, logging in as `user`. */
  url(database: string, user?: string): string;
  stop(): Promise<void>;
}

/**
 * Starts PgBouncer in transaction pooling mode on a free loopback port in front of the test
 * server (trust authentication, the listed users). Run as root, it runs as `postgres` (PgBouncer
 * refuses root). Nothing else on the machine is touched; stop() ends it and removes its files.
 */
export async function startPgBouncer(
  users: string[] = ['postgres', 'app_runtime', 'app_platform_client'],
): Promise<PgBouncer> {
  const upstream = new URL(ADMIN_URL);
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'pgbouncer-'));
  const asRoot = userInfo().uid === 0;
  writeFileSync(join(dir, 'users.txt'), users.map((u) => `"${u}" ""`).join('\n') + '\n');
  writeFileSync(
    join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `* = host=${upstream.hostname} port=${upstream.port || 5432}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${join(dir, 'users.txt')}`,
      'pool_mode = transaction',
      'max_client_conn = 400',
      'default_pool_size = 20',
      'server_reset_query =',
      'ignore_startup_parameters = extra_float_digits,options',
      `logfile = ${join(dir, 'pgbouncer.log')}`,
      '',
    ].join('\n'),
  );
  if (asRoot) {
    const { uid, gid } = postgresUser();
    for (const f of ['', 'users.txt', 'pgbouncer.ini']) chownSync(join(dir, f), uid, gid);
  }
  const args = [join(dir, 'pgbouncer.ini')];
  const child: ChildProcess = asRoot
    ? spawn('runuser', ['-u', 'postgres', '--', PGBOUNCER_BIN, ...args], { stdio: 'ignore' })
    : spawn(PGBOUNCER_BIN, args, { stdio: 'ignore' });
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });
  const until = Date.now() + 10_000;
  for (;;) {
    if (await canConnect(port)) break;
    if (exited || Date.now() > until) {
      const log = existsSync(join(dir, 'pgbouncer.log'))
        ? readFileSync(join(dir, 'pgbouncer.log'), 'utf8').slice(-2000)
        : '';
      child.kill('SIGKILL');
      throw new Error(`PgBouncer did not start on port ${port}: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    url: (database, user = 'postgres') => `postgres://${user}@127.0.0.1:${port}/${database}`,
    stop: async () => {
      if (!exited) {
        const gone = new Promise<void>((r) => child.once('exit', () => r()));
        child.kill('SIGINT');
        await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
        if (!exited) child.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function postgresUser(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('no postgres user to run PgBouncer as');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
