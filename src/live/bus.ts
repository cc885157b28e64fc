import { EventEmitter } from 'node:events';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Knex } from 'knex';

/** What changed: the kind of object, for the subscription fields that deliver it. */
export const LIVE_KINDS = ['appointment', 'call', 'callback'] as const;
export type LiveKind = (typeof LIVE_KINDS)[number];

/**
 * One change, as it travels between processes: ids only, never the object. Each subscriber reloads
 * the object in its own tenant context, so row level security, the permission rules and the staff
 * ownership rule decide what it is sent.
 */
export interface LiveEvent {
  kind: LiveKind;
  /** What happened, e.g. CREATED, RESCHEDULED, CANCELLED, STATUS_CHANGED, STARTED, ENDED. */
  action: string;
  companyId: string;
  id: string;
  /** The staff member an appointment belongs to, for cheap filtering before the reload. */
  staffId?: string | null;
  /** When the change was committed (ms since epoch), for the delivery latency histogram. */
  at: number;
}

export type LiveListener = (event: LiveEvent) => void;

/** Carries committed changes to every subscriber of every process. */
export interface LiveBus {
  readonly transport: 'postgres' | 'redis' | 'memory';
  publish(event: LiveEvent): Promise<void>;
  subscribe(listener: LiveListener): () => void;
  close(): Promise<void>;
}

/** The Postgres NOTIFY channel (and Redis channel suffix). */
export const LIVE_CHANNEL = 'app_live_events';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ACTION = /^[A-Z_]{1,40}$/;

export function encodeEvent(e: LiveEvent): string {
  return JSON.stringify([e.kind, e.action, e.companyId, e.id, e.staffId ?? null, e.at]);
}

/** Parses a payload from the channel; anything malformed is dropped (undefined). */
export function decodeEvent(raw: string): LiveEvent | undefined {
  try {
    const v = JSON.parse(raw) as unknown;
    if (!Array.isArray(v) || v.length !== 6) return undefined;
    const [kind, action, companyId, id, staffId, at] = v as unknown[];
    if (!(LIVE_KINDS as readonly unknown[]).includes(kind)) return undefined;
    if (typeof action !== 'string' || !ACTION.test(action)) return undefined;
    if (typeof companyId !== 'string' || !UUID.test(companyId)) return undefined;
    if (typeof id !== 'string' || !UUID.test(id)) return undefined;
    if (staffId !== null && (typeof staffId !== 'string' || !UUID.test(staffId))) return undefined;
    if (typeof at !== 'number' || !Number.isFinite(at)) return undefined;
    return { kind: kind as LiveKind, action, companyId, id, staffId, at };
  } catch {
    return undefined;
  }
}

/** Fan-out to this process's listeners; a throwing listener does not stop the others. */
class Listeners {
  private readonly emitter = new EventEmitter();
  constructor(private readonly logger: Logger) {
    this.emitter.setMaxListeners(0);
  }
  add(listener: LiveListener): () => void {
    const safe = (e: LiveEvent) => {
      try {
        listener(e);
      } catch (err) {
        this.logger.error({ err }, 'live event listener failed');
      }
    };
    this.emitter.on('event', safe);
    return () => this.emitter.off('event', safe);
  }
  emit(raw: string): void {
    const event = decodeEvent(raw);
    if (event) this.emitter.emit('event', event);
  }
}

/** In one process only: the embedded database (PGlite) and tests of a single server. */
export function memoryBus(logger: Logger): LiveBus {
  const listeners = new Listeners(logger);
  return {
    transport: 'memory',
    publish: async (event) => {
      // Asynchronous, like the other transports: never inside the publisher's call stack.
      const raw = encodeEvent(event);
      setImmediate(() => listeners.emit(raw));
    },
    subscribe: (l) => listeners.add(l),
    close: async () => undefined,
  };
}

/**
 * Postgres LISTEN/NOTIFY: NOTIFY goes through the pool (after the commit), LISTEN holds one
 * dedicated connection outside the pool (DATABASE_DIRECT_URL when a transaction-mode pooler sits in
 * front of DATABASE_URL). The connection is re-opened after a failure.
 */
export async function postgresBus(opts: {
  notify: Knex;
  listenUrl: string;
  logger: Logger;
}): Promise<LiveBus> {
  const listeners = new Listeners(opts.logger);
  let client: pg.Client | undefined;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;
  const connect = async (): Promise<void> => {
    const c = new pg.Client({ connectionString: opts.listenUrl });
    c.on('notification', (msg) => {
      if (msg.channel === LIVE_CHANNEL && msg.payload) listeners.emit(msg.payload);
    });
    c.on('error', (err) => {
      opts.logger.warn({ err }, 'live events listener connection failed; reconnecting');
      c.end().catch(() => undefined);
      if (client === c) client = undefined;
      if (!closed) {
        retry = setTimeout(() => void connect().catch(() => undefined), 1000);
        retry.unref();
      }
    });
    await c.connect();
    await c.query(`listen ${LIVE_CHANNEL}`);
    if (closed) {
      await c.end();
      return;
    }
    client = c;
  };
  await connect();
  return {
    transport: 'postgres',
    publish: async (event) => {
      await opts.notify.raw('select pg_notify(?, ?)', [LIVE_CHANNEL, encodeEvent(event)]);
    },
    subscribe: (l) => listeners.add(l),
    close: async () => {
      closed = true;
      if (retry) clearTimeout(retry);
      await client?.end().catch(() => undefined);
    },
  };
}

/**
 * Redis pub/sub (REDIS_URL): a publishing and a separate subscribing connection. Neither blocks the
 * start: while Redis is unreachable, publishing fails at once (logged, the change itself stays
 * committed) and the subscriber reconnects and subscribes again on its own.
 */
export function redisBus(opts: { url: string; prefix: string; logger: Logger }): LiveBus {
  const channel = `${opts.prefix}:${LIVE_CHANNEL}`;
  const pub = new Redis(opts.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  const sub = new Redis(opts.url);
  let warned = false;
  for (const r of [pub, sub]) {
    r.on('error', (err) => {
      // ioredis retries on its own; one warning per outage is enough.
      if (!warned) opts.logger.warn({ err }, 'live events redis connection failed');
      warned = true;
    });
    r.on('ready', () => (warned = false));
  }
  const listeners = new Listeners(opts.logger);
  sub.on('message', (ch: string, message: string) => {
    if (ch === channel) listeners.emit(message);
  });
  sub.subscribe(channel).catch((err: unknown) => {
    opts.logger.warn({ err }, 'live events redis subscribe failed');
  });
  return {
    transport: 'redis',
    publish: async (event) => {
      await pub.publish(channel, encodeEvent(event));
    },
    subscribe: (l) => listeners.add(l),
    close: async () => {
      sub.disconnect();
      pub.disconnect();
    },
  };
}
