import { IANAZone } from 'luxon';
import { AppError } from '../errors/app-error';

let supported: ReadonlySet<string> | undefined;

/** The canonical IANA zone names this runtime knows (`Intl.supportedValuesOf('timeZone')`). */
function supportedZones(): ReadonlySet<string> {
  supported ??= new Set([...Intl.supportedValuesOf('timeZone'), 'UTC']);
  return supported;
}

/**
 * An IANA time zone name, as its canonical spelling (`europe/berlin` becomes `Europe/Berlin`, a
 * link such as `Europe/Kiev` its current name), or BAD_USER_INPUT naming the field. Empty text,
 * offsets and abbreviations are refused.
 */
export function checkTimezone(value: string, field: string): string {
  const zone = value.trim();
  const refuse = () =>
    new AppError('BAD_USER_INPUT', `${field} must be an IANA time zone such as Europe/Berlin`, {
      field,
    });
  if (zone === '' || zone.length > 64 || !/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(zone)) throw refuse();
  if (!IANAZone.isValidZone(zone)) throw refuse();
  const canonical = new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
  if (supportedZones().has(canonical)) return canonical;
  if (supportedZones().has(zone)) return zone;
  throw refuse();
}
