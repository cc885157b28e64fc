import type { RequestContext } from '../context/request-context';
import { companySettings } from '../domain/companies/company-settings';
import { normalisePhone } from '../domain/phone';

/** Normalises with the company's default region, or BAD_USER_INPUT naming the field. */
export async function companyE164(
  ctx: RequestContext,
  value: string,
  field: string,
): Promise<string> {
  const company = await companySettings(ctx);
  return normalisePhone(value, company.defaultRegion, field);
}

/**
 * An optional phone input: undefined keeps the stored value, null or empty clears it, anything else
 * is normalised to E.164 with the company's region.
 */
export async function optionalCompanyE164(
  ctx: RequestContext,
  value: string | null | undefined,
  field: string,
): Promise<string | null | undefined> {
  if (value === undefined) return undefined;
  if (value === null || value.trim() === '') return null;
  return companyE164(ctx, value, field);
}
