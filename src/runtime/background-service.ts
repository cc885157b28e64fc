/**
 * Something that runs beside the HTTP server (the webhook worker, the retention job, the
 * metrics listener). A low module of its own so that the services and `app.ts`, which starts
 * and stops them, both depend on it rather than on each other.
 */
export interface BackgroundService {
  name: string;
  start(): void;
  stop(): Promise<void>;
}
