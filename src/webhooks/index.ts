import type { Request, Router } from 'express';
import { ANONYMOUS, type Actor } from '../context/actor';
import type { AppDeps } from '../context/deps';
import { createWebhookRouter, type WebhookRouterOptions } from './router';
import { WebhookWorker, type WebhookWorkerOptions } from './worker';

export { createWebhookRouter, type WebhookRouterOptions } from './router';
export {
  WebhookWorker,
  DEFAULT_WORKER_OPTIONS,
  backoffDelayMs,
  type WebhookWorkerOptions,
} from './worker';
export {
  listWebhookEvents,
  webhookStats,
  replayWebhookEvent,
  webhookScope,
  type ListWebhookEventsArgs,
  type WebhookEventConnection,
  type WebhookEventView,
  type WebhookStats,
} from './service';
export {
  WEBHOOK_PROVIDERS,
  WEBHOOK_STATUSES,
  type WebhookProvider,
  type WebhookStatus,
} from './envelope';
export { signCalcom, signRetell, verifyCalcomSignature, verifyRetellSignature } from './signatures';

/** Until an authenticator is given, the monitor answers 401 to everyone. */
export const noMonitorAccess = async (_req: Request): Promise<Actor> => ANONYMOUS;

/** The webhook routes and the inbox worker, wired together (a stored event wakes the worker). */
export function createWebhookModule(
  deps: AppDeps,
  options: {
    authenticate?: WebhookRouterOptions['authenticate'];
    worker?: Partial<WebhookWorkerOptions>;
    storeTimeoutMs?: number;
  } = {},
): { router: Router; worker: WebhookWorker } {
  const worker = new WebhookWorker(deps, options.worker);
  const router = createWebhookRouter(deps, {
    authenticate: options.authenticate ?? noMonitorAccess,
    onStored: () => worker.notify(),
    storeTimeoutMs: options.storeTimeoutMs,
  });
  return { router, worker };
}
