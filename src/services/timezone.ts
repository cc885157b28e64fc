import { IANAZone } from 'luxon';
import { AppError } from '../errors/app-error';

/** An IANA time zone name, or BAD_USER_INPUT naming the field. */
export function checkTimezone(value: string, field: string): string {
  const zone = value.trim();
  if (!IANAZone.isValidZone(zone)) {
    throw new AppError(
      'BAD_USER_INPUT',
      `${field} must be an IANA time zone such as Europe/Berlin`,
      {
        field,
      },
    );
  }
  return zone;
}
