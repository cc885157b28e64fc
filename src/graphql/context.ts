import type { AuthService } from '../auth/auth.service';
import type { RequestContext } from '../context/request-context';

/** The GraphQL context value: the request context that every resolver passes to the services. */
export interface GraphQLContext {
  ctx: RequestContext;
}

/** What the GraphQL server builds per request: the context plus the sign-in service. */
export interface GraphQLContextValue extends GraphQLContext {
  auth: AuthService;
}
