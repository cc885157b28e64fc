import { getCountries, parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';
import type { RequestContext } from '../context/request-context';
import { AppError } from '../errors/app-error';

export interface CompanySettings {
  id: string;
  name: string;
  slug: string;
  timezone: string;
  default_region: string;
  currency: string;
}

/** The caller's company row, read once per request. */
export async function companySettings(ctx: RequestContext): Promise<CompanySettings> {
  const cached = ctx.cache.get('company') as CompanySettings | undefined;
  if (cached) return cached;
  const trx = await ctx.trx();
  const row = (await trx('companies').first()) as CompanySettings | undefined;
  if (!row) throw new AppError('NOT_FOUND', 'Company not found');
  ctx.cache.set('company', row);
  return row;
}

let regions: ReadonlySet<string> | undefined;

/**
 * An ISO 3166-1 alpha-2 region that phone numbers can be read in (libphonenumber's list), upper
 * case, or BAD_USER_INPUT naming the field: `XX`, `ZZ` and codes without a numbering plan are refused.
 */
export function checkRegion(value: string, field: string): string {
  regions ??= new Set<string>(getCountries());
  const region = value.trim().toUpperCase();
  if (!regions.has(region)) {
    throw new AppError('BAD_USER_INPUT', `${field} must be a two-letter region such as DE`, {
      field,
    });
  }
  return region;
}

/** Normalises a phone number to E.164 with a default region, or BAD_USER_INPUT naming the field. */
export function toE164(value: string, region: string, field: string): string {
  const parsed = parsePhoneNumberFromString(value.trim(), region as CountryCode);
  if (!parsed || !parsed.isValid()) {
    throw new AppError('BAD_USER_INPUT', `${field} is not a valid phone number`, { field });
  }
  return parsed.number;
}

/** Normalises with the company's default region. */
export async function companyE164(
  ctx: RequestContext,
  value: string,
  field: string,
): Promise<string> {
  const company = await companySettings(ctx);
  return toE164(value, company.default_region, field);
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
