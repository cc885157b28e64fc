import type { Logger } from 'pino';
import type { Config } from '../config';
import type { Database } from '../db/database';
import type { Metrics } from '../observability/metrics';
import type { LiveBus } from '../live/bus';

/** What every part of the server is built from; created once in app.ts. */
export interface AppDeps {
  config: Config;
  db: Database;
  logger: Logger;
  metrics: Metrics;
  /** Carries committed changes to GraphQL subscriptions; set when the server starts. */
  live?: LiveBus;
}
