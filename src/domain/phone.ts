import { getCountries, parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';
import { badInput } from '../errors/app-error';

/**
 * Phone numbers: every stored number is E.164, read with the company's default region when it is
 * written nationally. These are the only parsers; everything else calls them.
 */

/** E.164 form of a phone number, or null when it is not a valid number (lenient: for payloads). */
export function e164OrNull(raw: unknown, region?: string | null): string | null {
  if (typeof raw !== 'string' || raw.trim() === '') return null;
  const parsed = parsePhoneNumberFromString(raw.trim(), (region ?? undefined) as CountryCode);
  return parsed && parsed.isValid() ? parsed.number : null;
}

/** E.164 with the company's default region for national numbers, or BAD_USER_INPUT on `field`. */
export function normalisePhone(value: unknown, region: string, field: string): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw badInput(field, `${field} is required`);
  }
  const number = e164OrNull(value, region);
  if (!number) throw badInput(field, `${field} is not a valid phone number`);
  return number;
}

/** A stored number the way it is read out: international format. */
export function formatInternational(e164: string): string {
  return parsePhoneNumberFromString(e164)?.formatInternational() ?? e164;
}

let regions: ReadonlySet<string> | undefined;

/**
 * An ISO 3166-1 alpha-2 region that phone numbers can be read in (libphonenumber's list), upper
 * case, or BAD_USER_INPUT naming the field: `XX`, `ZZ` and codes without a numbering plan are refused.
 */
export function checkRegion(value: string, field: string): string {
  regions ??= new Set<string>(getCountries());
  const region = value.trim().toUpperCase();
  if (!regions.has(region))
    throw badInput(field, `${field} must be a two-letter region such as DE`);
  return region;
}
