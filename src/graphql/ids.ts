import { AppError } from '../errors/app-error';
import type { RequestContext } from '../context/request-context';
import { fromGlobalId } from './global-id';

/**
 * The row id behind a global id of the expected type in the caller's company. A well-formed id of
 * another company answers NOT_FOUND, exactly as an unknown id does, and is counted as a
 * cross-tenant attempt.
 */
export function localId(
  ctx: RequestContext,
  globalId: string,
  expectedType: string | readonly string[],
  field: string,
): string {
  const decoded = fromGlobalId(globalId, field);
  const types = typeof expectedType === 'string' ? [expectedType] : expectedType;
  if (!types.includes(decoded.type)) {
    throw new AppError('BAD_USER_INPUT', `${field} must be the id of a ${types.join(' or ')}`, {
      field,
    });
  }
  if (decoded.companyId !== ctx.companyId) {
    ctx.deps.metrics.crossTenantAttempts.inc({ path: 'graphql_id' });
    ctx.deps.logger.warn(
      { requestId: ctx.requestId, field, type: decoded.type },
      'cross-tenant id refused',
    );
    throw new AppError('NOT_FOUND', `${decoded.type} not found`, { field });
  }
  return decoded.id;
}

export function optionalLocalId(
  ctx: RequestContext,
  globalId: string | null | undefined,
  expectedType: string,
  field: string,
): string | null | undefined {
  if (globalId === undefined) return undefined;
  if (globalId === null) return null;
  return localId(ctx, globalId, expectedType, field);
}
