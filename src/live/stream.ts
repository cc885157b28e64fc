import { canRead } from '../auth/access';
import { canAccessAppointment } from '../auth/ownership';
import { RequestContext } from '../context/request-context';
import type { GraphQLContext } from '../graphql/context';
import { Appointment, Call, CallbackRequest } from '../models';
import type { LiveEvent, LiveKind } from './bus';

/** What the socket layer adds to a subscription's GraphQL context (src/live/server.ts). */
export interface LiveSocketHooks {
  /** Checks the socket's token again when the last check is stale; false: the socket is closing. */
  beforeDeliver(): Promise<boolean>;
  /** Too many events queued for one subscription: the socket is dropped as a slow consumer. */
  slowConsumer(): void;
  /** Counts a delivered event. */
  delivered(companyId: string): void;
  maxPendingEvents: number;
}

export interface LiveContext extends GraphQLContext {
  live?: LiveSocketHooks;
}

type Row = Appointment | Call | CallbackRequest;

const RESOURCE = { appointment: 'appointments', call: 'calls', callback: 'callbacks' } as const;

/**
 * Reloads the changed object in a fresh tenant context of the subscriber (row level security, the
 * read permission and, for appointments, the staff ownership rule apply), or undefined when the
 * subscriber may not see it.
 */
async function reload(ctx: RequestContext, event: LiveEvent): Promise<Row | undefined> {
  if (!canRead(ctx.actor, ctx.companyId, RESOURCE[event.kind])) return undefined;
  const trx = await ctx.trx();
  if (event.kind === 'appointment') {
    const row = await Appointment.query(trx).findById(event.id);
    return row && canAccessAppointment(ctx.actor, row, 'read') ? row : undefined;
  }
  if (event.kind === 'call') return Call.query(trx).findById(event.id);
  return CallbackRequest.query(trx).findById(event.id);
}

export interface StreamOptions<T> {
  kinds: readonly LiveKind[];
  /** Whether the reloaded object is wanted (argument filters). */
  accept?: (event: LiveEvent, row: Row) => boolean;
  /** Dashboard invalidations carry no object: no reload. */
  reloadObject: boolean;
  payload: (event: LiveEvent, row: Row | undefined) => T;
}

/**
 * The event stream of one subscription: committed changes of the subscriber's company from the live
 * bus, each reloaded in a tenant context of its own that is the GraphQL context while the event's
 * selection resolves, and committed (read only) before the next event.
 */
export function liveStream<T>(context: LiveContext, options: StreamOptions<T>): AsyncIterable<T> {
  const base = context.ctx;
  const { deps, actor } = base;
  const companyId = base.requireCompanyId();
  const bus = deps.live;
  const hooks = context.live;
  const metrics = deps.metrics;
  const staffOnly = !canAccessAppointment(actor, { staffId: null }, 'read');

  return {
    [Symbol.asyncIterator](): AsyncIterator<T> {
      const queue: LiveEvent[] = [];
      let wake: (() => void) | undefined;
      let ended = false;
      let current: RequestContext | undefined;
      const unsubscribe =
        bus?.subscribe((event) => {
          if (ended || !options.kinds.includes(event.kind)) return;
          if (event.companyId !== companyId) {
            metrics.liveEventsFiltered.inc({ reason: 'other_company' });
            return;
          }
          if (
            staffOnly &&
            event.kind === 'appointment' &&
            options.reloadObject &&
            event.staffId &&
            !canAccessAppointment(actor, { staffId: event.staffId }, 'read')
          ) {
            metrics.liveEventsFiltered.inc({ reason: 'not_visible' });
            return;
          }
          if (queue.length >= (hooks?.maxPendingEvents ?? 100)) {
            metrics.liveEventsFiltered.inc({ reason: 'slow_consumer' });
            end();
            hooks?.slowConsumer();
            return;
          }
          queue.push(event);
          wake?.();
        }) ?? (() => undefined);

      const finishCurrent = async () => {
        const c = current;
        current = undefined;
        if (c) await c.finish(true).catch(() => undefined);
      };
      const end = () => {
        if (ended) return;
        ended = true;
        unsubscribe();
        wake?.();
      };

      return {
        async next(): Promise<IteratorResult<T>> {
          await finishCurrent();
          for (;;) {
            if (ended) return { done: true, value: undefined };
            const event = queue.shift();
            if (!event) {
              await new Promise<void>((resolve) => (wake = resolve));
              wake = undefined;
              continue;
            }
            if (hooks && !(await hooks.beforeDeliver())) {
              end();
              return { done: true, value: undefined };
            }
            const ctx = new RequestContext({
              deps,
              actor,
              companyId,
              statementTimeoutMs: deps.config.graphqlLimits.statementTimeoutMs,
            });
            ctx.beginOperation('query');
            let row: Row | undefined;
            try {
              row = options.reloadObject ? await reload(ctx, event) : undefined;
            } catch (err) {
              deps.logger.warn({ err }, 'live event reload failed');
              await ctx.finish(false).catch(() => undefined);
              continue;
            }
            if (options.reloadObject && (!row || (options.accept && !options.accept(event, row)))) {
              if (!row) metrics.liveEventsFiltered.inc({ reason: 'not_visible' });
              await ctx.finish(true).catch(() => undefined);
              continue;
            }
            current = ctx;
            // The selection of this event resolves in its own context.
            context.ctx = ctx;
            hooks?.delivered(companyId);
            metrics.liveEventLatency.observe(Math.max(0, Date.now() - event.at) / 1000);
            return { done: false, value: options.payload(event, row) };
          }
        },
        async return(): Promise<IteratorResult<T>> {
          end();
          await finishCurrent();
          return { done: true, value: undefined };
        },
      };
    },
  };
}
