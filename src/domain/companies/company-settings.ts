import type { Knex } from 'knex';
import type { RequestContext } from '../../context/request-context';
import { AppError } from '../../errors/app-error';
import { Company } from '../../models';
import { isValidZone } from '../../scheduling/time';
import { normalisePhone } from '../phone';

/** What the rest of the domain reads of the caller's company. */
export interface CompanySettings {
  id: string;
  name: string;
  slug: string;
  /** An IANA zone; a stored zone the runtime does not know reads as UTC. */
  timezone: string;
  /** ISO 3166-1 region national phone numbers are read in. */
  defaultRegion: string;
  currency: string;
}

const CACHE_KEY = 'company.settings';

/**
 * The caller's company (row level security shows no other), read once per request and cached on
 * the context. Pass `trx` when inside a unit of work: its savepoint holds the connection.
 */
export async function companySettings(
  ctx: RequestContext,
  trx?: Knex.Transaction,
): Promise<CompanySettings> {
  const cached = ctx.cache.get(CACHE_KEY) as CompanySettings | undefined;
  if (cached) return cached;
  const row = await Company.query(trx ?? (await ctx.trx())).first();
  if (!row) throw new AppError('NOT_FOUND', 'Company not found');
  const settings: CompanySettings = {
    id: row.id,
    name: row.name,
    slug: row.slug,
    timezone: isValidZone(row.timezone) ? row.timezone : 'UTC',
    defaultRegion: row.defaultRegion,
    currency: row.currency,
  };
  ctx.cache.set(CACHE_KEY, settings);
  return settings;
}

/** Forgets the cached settings after the company row changed in this request. */
export function forgetCompanySettings(ctx: RequestContext): void {
  ctx.cache.delete(CACHE_KEY);
}

/** A phone input as E.164, national numbers read with the company's region; else BAD_USER_INPUT. */
export async function companyPhone(
  ctx: RequestContext,
  value: string,
  field: string,
): Promise<string> {
  return normalisePhone(value, (await companySettings(ctx)).defaultRegion, field);
}

/**
 * An optional phone input: undefined keeps the stored value, null or empty clears it, anything else
 * is normalised to E.164 with the company's region.
 */
export async function optionalCompanyPhone(
  ctx: RequestContext,
  value: string | null | undefined,
  field: string,
): Promise<string | null | undefined> {
  if (value === undefined) return undefined;
  if (value === null || value.trim() === '') return null;
  return companyPhone(ctx, value, field);
}
