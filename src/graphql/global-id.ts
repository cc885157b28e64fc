import { isUuid } from '../domain/ids';
import { AppError } from '../errors/app-error';
import { base64url } from './base64url';

/**
 * Opaque global ids for the Relay `Node` interface: base64url of `Type:companyId:uuid`. Carrying the
 * company lets the server tell a foreign id (another company's row, answered NOT_FOUND and counted
 * as a cross-tenant attempt) from a merely unknown one without looking across tenants.
 */
export interface DecodedGlobalId {
  type: string;
  companyId: string;
  id: string;
}

const TYPE = /^[A-Z][A-Za-z]{1,40}$/;

export function toGlobalId(type: string, companyId: string, id: string): string {
  return base64url(`${type}:${companyId}:${id}`);
}

/** Decodes a global id; a malformed one is BAD_USER_INPUT naming `field`. */
export function fromGlobalId(value: string, field: string): DecodedGlobalId {
  const invalid = () => new AppError('BAD_USER_INPUT', `${field} is not a valid id`, { field });
  if (typeof value !== 'string' || value.length > 200) throw invalid();
  const parts = Buffer.from(value, 'base64url').toString('utf8').split(':');
  if (parts.length !== 3) throw invalid();
  const [type, companyId, id] = parts;
  if (!TYPE.test(type) || !isUuid(companyId) || !isUuid(id)) throw invalid();
  return { type, companyId: companyId.toLowerCase(), id: id.toLowerCase() };
}
