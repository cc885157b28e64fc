import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export interface Received {
  data: Array<Record<string, any>>;
  errors: Array<Record<string, any>>;
  /** The close code when the server closed the socket. */
  closed?: number;
  client: Client;
  /** Resolves when the server acknowledged connection_init. */
  connected: Promise<void>;
  /** Resolves when the subscription is running on the server (a short settle after ack). */
  dispose(): Promise<void>;
}

/** A real graphql-ws client over a real WebSocket, collecting what one subscription receives. */
export function subscribe(
  httpUrl: string,
  connectionParams: Record<string, unknown> | undefined,
  query: string,
  variables?: Record<string, unknown>,
): Received {
  let ack!: () => void;
  const connected = new Promise<void>((resolve) => (ack = resolve));
  const client = createClient({
    url: `${httpUrl.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams,
    retryAttempts: 0,
    lazy: false,
    onNonLazyError: () => undefined,
    on: { connected: () => ack() },
  });
  const r: Received = {
    data: [],
    errors: [],
    client,
    connected,
    dispose: async () => {
      await client.dispose();
    },
  };
  client.on('closed', (event) => {
    r.closed ??= (event as { code?: number }).code;
    ack();
  });
  client.subscribe(
    { query, variables },
    {
      next: (v) => {
        if (v.errors) r.errors.push(...(v.errors as unknown as Array<Record<string, any>>));
        if (v.data) r.data.push(v.data as Record<string, any>);
      },
      error: (e) => {
        if (Array.isArray(e)) r.errors.push(...(e as Array<Record<string, any>>));
        else r.errors.push({ error: String((e as { code?: number }).code ?? e) });
      },
      complete: () => undefined,
    },
  );
  return r;
}

/** Waits until `check` holds, polling. */
export async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
