import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** A W3C trace context (https://www.w3.org/TR/trace-context/) as this server takes part in it. */
export interface TraceContext {
  /** 32 lowercase hex digits, shared by every hop of the trace. */
  traceId: string;
  /** 16 hex digits naming this server's part of the trace. */
  spanId: string;
  /** The caller's span, when the caller sent a valid `traceparent`. */
  parentSpanId?: string;
  /** Two hex digits; the caller's when given, else "00" (this server records no spans itself). */
  flags: string;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

const newTraceId = (): string => randomUUID().replace(/-/g, '');
const newSpanId = (): string => randomUUID().replace(/-/g, '').slice(16);

/**
 * The trace context of a request: the caller's trace when its `traceparent` is valid, else a new
 * trace. Either way this server gets a span id of its own, which it hands on downstream.
 */
export function traceContextFrom(header: string | string[] | undefined): TraceContext {
  const value = Array.isArray(header) ? header[0] : header;
  const match = value ? TRACEPARENT.exec(value.trim()) : null;
  if (match) {
    const [, version, traceId, parentSpanId, flags, rest] = match;
    // Version ff is forbidden; version 00 has exactly four fields; all-zero ids are invalid.
    const validVersion = version !== 'ff' && (version !== '00' || rest === undefined);
    if (validVersion && traceId !== ZERO_TRACE && parentSpanId !== ZERO_SPAN) {
      return { traceId, spanId: newSpanId(), parentSpanId, flags };
    }
  }
  return { traceId: newTraceId(), spanId: newSpanId(), flags: '00' };
}

/** The `traceparent` header value that names this server's span, for responses and calls out. */
export function formatTraceparent(trace: TraceContext): string {
  return `00-${trace.traceId}-${trace.spanId}-${trace.flags}`;
}

/** Fields other code adds to the request's log line once it knows them. */
export interface RequestAnnotations {
  companyId?: string | null;
  userId?: string | null;
  /** The kind of actor: user, api_token, platform_admin, system, anonymous. */
  actorKind?: string;
  operationName?: string | null;
  operationType?: string;
  [field: string]: unknown;
}

/** What the server knows about one HTTP request while serving it. */
export interface RequestObservation {
  readonly requestId: string;
  readonly trace: TraceContext;
  /** Statements issued to the database so far, transaction control included. */
  statements: number;
  /** Time spent in timed statements so far, in seconds. */
  dbSeconds: number;
  /** Set once the request's server error was counted for its company (by the GraphQL plugin). */
  serverErrorCounted?: boolean;
  /** A route template set explicitly by the code that served the request. */
  route?: string;
  readonly annotations: RequestAnnotations;
}

/** The request being served in the current asynchronous context, if any. */
export const requestStorage = new AsyncLocalStorage<RequestObservation>();

const OBSERVATION = Symbol.for('app.requestObservation');

type Observable = IncomingMessage & { [OBSERVATION]?: RequestObservation };

export function attachObservation(req: IncomingMessage, observation: RequestObservation): void {
  (req as Observable)[OBSERVATION] = observation;
}

/** The observation of a request, when the HTTP observability middleware saw it. */
export function observationOf(req: IncomingMessage): RequestObservation | undefined {
  return (req as Observable)[OBSERVATION];
}

export function currentObservation(): RequestObservation | undefined {
  return requestStorage.getStore();
}

/**
 * Adds fields (company id, user id, operation name, ...) to the one log line written for the
 * request. Later calls add to and override earlier ones; `undefined` values are ignored. Does
 * nothing for a request the observability middleware did not see.
 */
export function annotateRequestLog(req: IncomingMessage, fields: RequestAnnotations): void {
  const observation = observationOf(req);
  if (observation) annotate(observation, fields);
}

/** Like `annotateRequestLog`, for code that has no `req` at hand: the request being served now. */
export function annotateCurrentRequest(fields: RequestAnnotations): void {
  const observation = currentObservation();
  if (observation) annotate(observation, fields);
}

function annotate(observation: RequestObservation, fields: RequestAnnotations): void {
  for (const [key, value] of Object.entries(fields)) {
    if (value !== undefined) observation.annotations[key] = value;
  }
}

/**
 * Names the route template of a request explicitly (`/api/webhooks/:provider`), for handlers the
 * router cannot name, such as middleware mounted on a path with parameters.
 */
export function setRouteTemplate(req: IncomingMessage, template: string): void {
  const observation = observationOf(req);
  if (observation) observation.route = template;
}

/** The trace context of a request, to hand on in calls to other services. */
export function traceContextOf(req: IncomingMessage): TraceContext | undefined {
  return observationOf(req)?.trace;
}

/**
 * Runs `fn` outside any request's context. Background loops (the webhook worker, the retention
 * job) set their timers through this, so a loop started or woken up while a request is served
 * does not log, count or trace as that request.
 */
export function outsideRequest<T>(fn: () => T): T {
  return requestStorage.exit(fn);
}
