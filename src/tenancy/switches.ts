/**
 * Switches that exist only to prove and measure the layers of tenant isolation: the tests turn the
 * application's company filter off to show that row level security alone still holds, and the
 * benchmark measures what the filter costs. They refuse to work in production.
 */
let tenantFilterEnabled = true;

export function isTenantFilterEnabled(): boolean {
  return tenantFilterEnabled;
}

export function setTenantFilterEnabled(enabled: boolean): void {
  if (!enabled && process.env.NODE_ENV === 'production') {
    throw new Error('the tenant filter cannot be switched off in production');
  }
  tenantFilterEnabled = enabled;
}
