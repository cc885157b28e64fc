import type { RequestContext } from '../context/request-context';

/** The GraphQL context value: the request context that every resolver passes to the services. */
export interface GraphQLContext {
  ctx: RequestContext;
}
