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

  return {
    registry,
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
