import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { migrateLatest } from '../../src/db/database';
import { freePort } from './pgbouncer';
import { systemBinary } from './system-binary';

/** The PostgreSQL 15 server binaries (Debian's layout), or PG_BIN. */
export const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';

/**
 * `describe` for tests that make Postgres clusters of their own (initdb, pg_basebackup, pg_ctl):
 * skipped loudly without the binaries, failing under CI=true.
 */
export const withPostgresBinaries = systemBinary(
  'the PostgreSQL 15 server binaries (initdb, pg_basebackup, pg_ctl)',
  [join(PG_BIN, 'pg_basebackup')],
  'apt-get install -y postgresql-15',
);

/** Runs a Postgres binary as `postgres` when we are root (Postgres refuses to run as root). */
function run(bin: string, args: string[]): string {
  const path = join(PG_BIN, bin);
  const [cmd, argv] =
    userInfo().uid === 0 ? ['runuser', ['-u', 'postgres', '--', path, ...args]] : [path, args];
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
 * A Postgres cluster of its own in a temporary directory on a free loopback port: a primary made
 * by initdb (wal_level=replica, replication connections trusted on loopback), or a streaming
 * replica of one made by `pg_basebackup -R`. It can be stopped, restarted and destroyed without
 * touching anything else on the machine (the replica tests and the fault suite use it).
 */
export class PgCluster {
  readonly dir: string;
  readonly data: string;
  port = 0;

  private constructor(prefix: string) {
    this.dir = mkdtempSync(join(tmpdir(), prefix));
    this.data = join(this.dir, 'data');
    if (userInfo().uid === 0) {
      const { uid, gid } = postgresIds();
      chownSync(this.dir, uid, gid);
    }
  }

  /** Whether the binaries a primary needs are installed. */
  static available(): boolean {
    return existsSync(join(PG_BIN, 'initdb')) && existsSync(join(PG_BIN, 'pg_ctl'));
  }

  /** A new primary, started. */
  static async primary(): Promise<PgCluster> {
    const c = new PgCluster('pg-primary-');
    c.port = await freePort();
    run('initdb', ['-D', c.data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync']);
    c.start();
    return c;
  }

  /** A streaming replica of `primary`, started: a base backup with the recovery settings. */
  static async replicaOf(primary: PgCluster): Promise<PgCluster> {
    const c = new PgCluster('pg-standby-');
    c.port = await freePort();
    run('pg_basebackup', [
      '-h',
      '127.0.0.1',
      '-p',
      String(primary.port),
      '-U',
      'postgres',
      '-D',
      c.data,
      '-R',
      '-X',
      'stream',
      '--no-sync',
      '--checkpoint=fast',
    ]);
    c.start();
    return c;
  }

  url(database = 'postgres', user = 'postgres'): string {
    return `postgres://${user}@127.0.0.1:${this.port}/${database}`;
  }

  /**
   * The app's database on this (primary) cluster: created, migrated, and the runtime and platform
   * roles given their logins. Answers the owner's handle (the caller destroys it).
   */
  async createAppDatabase(poolMax = 2, name = 'app'): Promise<Knex> {
    const admin = knexFactory({ client: 'pg', connection: this.url(), pool: { min: 0, max: 1 } });
    try {
      await admin.raw(`create database ${name}`);
    } finally {
      await admin.destroy();
    }
    const owner = knexFactory({
      client: 'pg',
      connection: this.url(name),
      pool: { min: 0, max: poolMax },
    });
    await migrateLatest(owner);
    await owner.raw('alter role app_runtime login');
    await owner.raw('alter role app_platform_client login');
    return owner;
  }

  start(): void {
    run('pg_ctl', [
      '-D',
      this.data,
      '-l',
      join(this.dir, 'postgres.log'),
      '-o',
      [
        `-p ${this.port}`,
        '-c listen_addresses=127.0.0.1',
        `-k ${this.dir}`,
        '-c fsync=off',
        // Two servers and the fault suite's load at once.
        '-c max_connections=200',
        '-c wal_level=replica',
        '-c hot_standby=on',
        // Replay is not held back for the replica's queries (none of them runs long here).
        '-c max_standby_streaming_delay=5s',
      ].join(' '),
      '-w',
      '-t',
      '60',
      'start',
    ]);
  }

  /** A fast shutdown: open connections are ended. */
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
