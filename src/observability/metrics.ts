import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { BoundedLabel } from './labels';

/** Live readings of the database pool, taken at scrape time; see src/observability/db.ts. */
export interface PoolReading {
  inUse: number;
  pending: number;
  max: number;
}

/**
 * What the scrape-time gauges read from, filled in by the database instrumentation
 * (src/observability/db.ts). Without a source (no database yet, or PGlite, which has no pool) the
 * gauges are not updated.
 */
export interface ScrapeSources {
  pool?: () => PoolReading | undefined;
  /** Refreshes the business gauges from the database; shared by the gauges of one scrape. */
  business?: () => Promise<void>;
}

/** The kinds a SQL statement is sorted into for the statement metrics. */
export const STATEMENT_KINDS = [
  'select',
  'insert',
  'update',
  'delete',
  'transaction',
  'other',
] as const;
export type StatementKind = (typeof STATEMENT_KINDS)[number];

/** The collectors behind the scrape-time business gauges. */
export const BUSINESS_COLLECTORS = ['callback_requests', 'webhook_inbox', 'companies'] as const;

/** Buckets in seconds around the review's targets: API p95 200 ms, dashboards 100 ms. */
const REQUEST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2.5, 5, 10];
/** Buckets in seconds around the review's statement thresholds: 2 ms, 10 ms, and 5 s. */
const STATEMENT_BUCKETS = [
  0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];
/** The review alerts above 50 statements per request; 20 is its normal ceiling. */
const STATEMENTS_PER_REQUEST_BUCKETS = [0, 1, 2, 5, 10, 20, 50, 100, 200];

/**
 * The server's Prometheus metrics, on a registry of its own per server instance (tests run several
 * servers in one process). Names follow Prometheus conventions: `_total` for counters, base units.
 * Label values come from closed sets (reasons, paths, rule names, route templates) or pass through
 * a cap (operation names, error codes), never straight from user input, so cardinality stays
 * bounded. No metric is labelled by company except low-volume counters behind a cap; see
 * docs/observability.md.
 */
export function createMetrics() {
  const registry = new Registry();
  // Process CPU, memory, heap, GC and event-loop lag under their usual names, so stock Node.js
  // dashboards work too.
  collectDefaultMetrics({ register: registry });
  const sources: ScrapeSources = {};

  const crossTenantAttempts = new Counter({
    name: 'app_cross_tenant_attempts_total',
    help: 'Requests that named a row or company outside the caller tenant, by path.',
    labelNames: ['path'] as const,
    registers: [registry],
  });
  const authFailures = new Counter({
    name: 'app_auth_failures_total',
    help: 'Failed authentications, by reason.',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const authorizationDenials = new Counter({
    name: 'app_authorization_denials_total',
    help: 'Requests refused by a permission rule, by rule.',
    labelNames: ['rule'] as const,
    registers: [registry],
  });
  const rateLimitRejections = new Counter({
    name: 'app_rate_limit_rejections_total',
    help: 'Requests refused by a rate limiter, by limiter.',
    labelNames: ['limiter'] as const,
    registers: [registry],
  });
  const superAdminTenantSwitches = new Counter({
    name: 'app_super_admin_tenant_switches_total',
    help: 'Requests in which a super admin acted inside a company.',
    registers: [registry],
  });
  const tenantScopeBypasses = new Counter({
    name: 'app_tenant_scope_bypass_total',
    help: 'Cross-tenant platform operations, by actor kind (anything but platform_admin/system is an incident).',
    labelNames: ['actor'] as const,
    registers: [registry],
  });
  const webhookSignatureRejections = new Counter({
    name: 'app_webhook_signature_rejections_total',
    help: 'Inbound webhooks refused for their signature, by provider and reason.',
    labelNames: ['provider', 'reason'] as const,
    registers: [registry],
  });

  const appointmentsBooked = new Counter({
    name: 'app_appointments_booked_total',
    help: 'Appointments booked, by source (phone, web, calcom, manual).',
    labelNames: ['source'] as const,
    registers: [registry],
  });
  const appointmentsCancelled = new Counter({
    name: 'app_appointments_cancelled_total',
    help: 'Appointments cancelled, by source of the cancellation.',
    labelNames: ['source'] as const,
    registers: [registry],
  });
  const appointmentsRescheduled = new Counter({
    name: 'app_appointments_rescheduled_total',
    help: 'Appointments rescheduled, by source of the change.',
    labelNames: ['source'] as const,
    registers: [registry],
  });
  const bookingConflicts = new Counter({
    name: 'app_booking_conflicts_total',
    help: 'Bookings refused because the slot was taken, by source.',
    labelNames: ['source'] as const,
    registers: [registry],
  });
  const callsReceived = new Counter({
    name: 'app_calls_received_total',
    help: 'Voice calls first recorded, by direction.',
    labelNames: ['direction'] as const,
    registers: [registry],
  });
  const callsConverted = new Counter({
    name: 'app_calls_converted_total',
    help: 'Voice calls that led to a booking.',
    registers: [registry],
  });
  const voiceFunctionCalls = new Counter({
    name: 'app_voice_function_calls_total',
    help: 'Voice-agent function requests answered, by function and outcome (ok, refused, invalid, limited, error).',
    labelNames: ['function', 'outcome'] as const,
    registers: [registry],
  });
  const webhookEventsReceived = new Counter({
    name: 'app_webhook_events_received_total',
    help: 'Verified inbound webhook events stored, by provider and whether they were duplicates.',
    labelNames: ['provider', 'duplicate'] as const,
    registers: [registry],
  });
  const webhookProcessed = new Counter({
    name: 'app_webhook_events_processed_total',
    help: 'Inbound webhook events processed, by provider and outcome (processed, ignored, unroutable, failed, dead, rejected, deferred; interrupted: handed back unfinished because the database was unreachable, not a failure of the event).',
    labelNames: ['provider', 'outcome'] as const,
    registers: [registry],
  });

  const httpRequestDuration = new Histogram({
    name: 'app_http_request_duration_seconds',
    help: 'HTTP requests served, by method, route template (never the raw URL) and status class.',
    labelNames: ['method', 'route', 'status_class'] as const,
    buckets: REQUEST_BUCKETS,
    registers: [registry],
  });
  const httpRequestsInFlight = new Gauge({
    name: 'app_http_requests_in_flight',
    help: 'HTTP requests being served right now.',
    registers: [registry],
  });
  const graphqlOperationDuration = new Histogram({
    name: 'app_graphql_operation_duration_seconds',
    help: 'GraphQL operations, by operation name (capped; anonymous and overflow fold into __other__), type and outcome.',
    labelNames: ['operation', 'type', 'outcome'] as const,
    buckets: REQUEST_BUCKETS,
    registers: [registry],
  });
  const graphqlErrors = new Counter({
    name: 'app_graphql_errors_total',
    help: 'Errors in GraphQL responses, by error code (capped).',
    labelNames: ['code'] as const,
    registers: [registry],
  });
  const dbStatementDuration = new Histogram({
    name: 'app_db_statement_duration_seconds',
    help: 'SQL statements the server ran, by kind (select, insert, update, delete, other) and outcome.',
    labelNames: ['kind', 'outcome'] as const,
    buckets: STATEMENT_BUCKETS,
    registers: [registry],
  });
  const dbStatementsPerRequest = new Histogram({
    name: 'app_db_statements_per_request',
    help: 'SQL statements (transaction control included) issued while serving one HTTP request, by route template.',
    labelNames: ['route'] as const,
    buckets: STATEMENTS_PER_REQUEST_BUCKETS,
    registers: [registry],
  });
  const dbSlowStatements = new Counter({
    name: 'app_db_slow_statements_total',
    help: 'SQL statements slower than the slow-statement threshold (5 s unless configured), by kind; each is logged.',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  // Zero series from the start, so `increase()` in the alert sees the very first slow statement.
  for (const kind of STATEMENT_KINDS) dbSlowStatements.inc({ kind }, 0);
  const dbPoolInUse = new Gauge({
    name: 'app_db_pool_connections_in_use',
    help: 'Database pool connections lent out to requests right now.',
    registers: [registry],
    collect() {
      const reading = sources.pool?.();
      if (reading) this.set(reading.inUse);
    },
  });
  const dbPoolPending = new Gauge({
    name: 'app_db_pool_acquires_pending',
    help: 'Requests waiting for a database pool connection right now.',
    registers: [registry],
    collect() {
      const reading = sources.pool?.();
      if (reading) this.set(reading.pending);
    },
  });
  const dbPoolMax = new Gauge({
    name: 'app_db_pool_connections_max',
    help: 'Largest number of connections the database pool may open.',
    registers: [registry],
    collect() {
      const reading = sources.pool?.();
      if (reading) this.set(reading.max);
    },
  });
  const replicaLag = new Gauge({
    name: 'app_db_replica_lag_seconds',
    help: 'How far the read replica is behind the primary, measured by WAL position (an upper bound to within one probe interval; -1 before the first measurement).',
    registers: [registry],
  });
  const replicaUsable = new Gauge({
    name: 'app_db_replica_usable',
    help: 'Whether read-only queries may go to the read replica now (1) or go to the primary (0).',
    registers: [registry],
  });
  const replicaReads = new Counter({
    name: 'app_db_replica_reads_total',
    help: 'Read-only GraphQL request transactions, by where they were opened (replica, primary) and why.',
    labelNames: ['target', 'reason'] as const,
    registers: [registry],
  });
  const refreshBusiness = async () => {
    await sources.business?.();
  };
  const callbackRequestsOpen = new Gauge({
    name: 'app_callback_requests_open',
    help: 'Callback requests not yet done, over all companies, by status and priority.',
    labelNames: ['status', 'priority'] as const,
    registers: [registry],
    collect: refreshBusiness,
  });
  const callbackRequestsOverdue = new Gauge({
    name: 'app_callback_requests_overdue',
    help: 'Open callback requests past their due time, over all companies.',
    registers: [registry],
    collect: refreshBusiness,
  });
  const webhookInboxEvents = new Gauge({
    name: 'app_webhook_inbox_events',
    help: 'Webhook inbox events not yet finished (processed and ignored ones are left out), by provider and status.',
    labelNames: ['provider', 'status'] as const,
    registers: [registry],
    collect: refreshBusiness,
  });
  const webhookInboxOldestAge = new Gauge({
    name: 'app_webhook_inbox_oldest_age_seconds',
    help: 'Age of the oldest unfinished webhook inbox event, by provider and status.',
    labelNames: ['provider', 'status'] as const,
    registers: [registry],
    collect: refreshBusiness,
  });
  const companies = new Gauge({
    name: 'app_companies',
    help: 'Companies (tenants) on the platform, by state (active, archived).',
    labelNames: ['state'] as const,
    registers: [registry],
    collect: refreshBusiness,
  });
  const tenantServerErrors = new Counter({
    name: 'app_tenant_server_errors_total',
    help: 'Requests of a known company that failed with a server error, by company id (capped; the rest fold into "other").',
    labelNames: ['company_id'] as const,
    registers: [registry],
  });
  const graphqlLimitHits = new Counter({
    name: 'app_graphql_limit_hits_total',
    help: 'GraphQL requests stopped by a limit (cost, depth, aliases, tokens, size, points bucket, statement timeout, response size), by limit and company id (capped; unknown before authentication).',
    labelNames: ['limit', 'company_id'] as const,
    registers: [registry],
  });
  const limiterStoreDegraded = new Counter({
    name: 'app_rate_limiter_store_degraded_total',
    help: 'Limiter decisions taken without the shared store (Redis), by limiter and by the rule applied (fail_open, in_process).',
    labelNames: ['limiter', 'rule'] as const,
    registers: [registry],
  });
  const graphqlBucketFailOpen = new Counter({
    name: 'app_graphql_points_bucket_fail_open_total',
    help: 'GraphQL requests let through unmetered because the points bucket store (Redis) could not be reached.',
    registers: [registry],
  });
  const liveSockets = new Gauge({
    name: 'app_live_sockets_open',
    help: 'Open GraphQL subscription sockets (graphql-ws) of this process.',
    registers: [registry],
  });
  const liveSocketsClosed = new Counter({
    name: 'app_live_sockets_closed_total',
    help: 'Subscription sockets the server closed, by reason (unauthenticated, forbidden, too_many, slow_consumer).',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const liveEventsDelivered = new Counter({
    name: 'app_live_events_delivered_total',
    help: 'Subscription events sent, by company id (capped; the rest fold into "other").',
    labelNames: ['company_id'] as const,
    registers: [registry],
  });
  const liveEventsFiltered = new Counter({
    name: 'app_live_events_filtered_total',
    help: 'Events not sent to a subscriber, by reason (other_company, not_visible, slow_consumer).',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const liveEventLatency = new Histogram({
    name: 'app_live_event_latency_seconds',
    help: 'From the commit of a change to its delivery to a subscriber.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const companySuspendedRefusals = new Counter({
    name: 'app_company_suspended_refusals_total',
    help: 'Requests refused because their company is suspended.',
    registers: [registry],
  });
  const retentionRemoved = new Counter({
    name: 'app_retention_removed_total',
    help: 'Call transcripts, recordings and stored voice answers removed by the retention job, by kind.',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const retentionRuns = new Counter({
    name: 'app_retention_runs_total',
    help: 'Runs of the retention job, by outcome (ok, error).',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  for (const kind of ['transcript', 'recording', 'voice_answer']) retentionRemoved.inc({ kind }, 0);
  const privacyOperations = new Counter({
    name: 'app_privacy_operations_total',
    help: 'Privacy and life-cycle operations: customer exports and erasures, company offboardings.',
    labelNames: ['operation'] as const,
    registers: [registry],
  });
  const collectorErrors = new Counter({
    name: 'app_metrics_collector_errors_total',
    help: 'Scrape-time gauges that could not be read, by collector.',
    labelNames: ['collector'] as const,
    registers: [registry],
  });
  for (const collector of BUSINESS_COLLECTORS) collectorErrors.inc({ collector }, 0);

  return {
    registry,
    sources,
    httpRequestDuration,
    httpRequestsInFlight,
    graphqlOperationDuration,
    graphqlErrors,
    dbStatementDuration,
    dbStatementsPerRequest,
    dbSlowStatements,
    dbPoolInUse,
    dbPoolPending,
    dbPoolMax,
    replicaLag,
    replicaUsable,
    replicaReads,
    callbackRequestsOpen,
    callbackRequestsOverdue,
    webhookInboxEvents,
    webhookInboxOldestAge,
    companies,
    tenantServerErrors,
    /** The company ids allowed on app_tenant_server_errors_total; see countTenantServerError. */
    tenantServerErrorCompanies: new BoundedLabel(100, 'other'),
    collectorErrors,
    graphqlLimitHits,
    /** The company ids allowed on app_graphql_limit_hits_total. */
    graphqlLimitHitCompanies: new BoundedLabel(100, 'other'),
    graphqlBucketFailOpen,
    limiterStoreDegraded,
    appointmentsBooked,
    appointmentsCancelled,
    appointmentsRescheduled,
    bookingConflicts,
    callsReceived,
    callsConverted,
    voiceFunctionCalls,
    webhookEventsReceived,
    webhookProcessed,
    crossTenantAttempts,
    authFailures,
    authorizationDenials,
    rateLimitRejections,
    superAdminTenantSwitches,
    tenantScopeBypasses,
    webhookSignatureRejections,
    companySuspendedRefusals,
    liveSockets,
    liveSocketsClosed,
    liveEventsDelivered,
    liveEventsFiltered,
    liveEventLatency,
    /** The company ids allowed on app_live_events_delivered_total. */
    liveEventCompanies: new BoundedLabel(100, 'other'),
    retentionRemoved,
    retentionRuns,
    privacyOperations,
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * Counts a server error of a request made in a company. The counter is the one metric labelled by
 * company: errors are rare, and past the first 100 companies the rest fold into "other".
 */
export function countTenantServerError(metrics: Metrics, companyId: string): void {
  metrics.tenantServerErrors.inc({
    company_id: metrics.tenantServerErrorCompanies.value(companyId),
  });
}
