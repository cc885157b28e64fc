import { Counter, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The server's Prometheus metrics, on a registry of its own per server instance (tests run several
 * servers in one process). Names follow Prometheus conventions: `_total` for counters, base units.
 * Label values come from closed sets (reasons, paths, rule names), never from user input, so
 * cardinality stays bounded.
 */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

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
  const webhookEventsReceived = new Counter({
    name: 'app_webhook_events_received_total',
    help: 'Verified inbound webhook events stored, by provider and whether they were duplicates.',
    labelNames: ['provider', 'duplicate'] as const,
    registers: [registry],
  });
  const webhookProcessed = new Counter({
    name: 'app_webhook_events_processed_total',
    help: 'Inbound webhook events processed, by provider and outcome (processed, ignored, unroutable, failed, dead).',
    labelNames: ['provider', 'outcome'] as const,
    registers: [registry],
  });

  return {
    registry,
    appointmentsBooked,
    appointmentsCancelled,
    appointmentsRescheduled,
    bookingConflicts,
    callsReceived,
    callsConverted,
    webhookEventsReceived,
    webhookProcessed,
    crossTenantAttempts,
    authFailures,
    authorizationDenials,
    rateLimitRejections,
    superAdminTenantSwitches,
    tenantScopeBypasses,
    webhookSignatureRejections,
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
