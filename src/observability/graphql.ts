import type { ApolloServerPlugin, BaseContext, GraphQLResponse } from '@apollo/server';
import type { AppDeps } from '../context/deps';
import { annotateCurrentRequest, currentObservation } from './context';
import { BoundedLabel } from './labels';
import { countTenantServerError } from './metrics';

/** The one label value for anonymous operations, unparsable requests and names past the cap. */
export const OTHER_OPERATION = '__other__';

export interface GraphqlMetricsOptions {
  /** Distinct operation names kept as label values; later ones fold into `__other__`. */
  maxOperationNames?: number;
  /**
   * Operation names the front ends are known to send, reserved up front so that arbitrary names
   * sent before them cannot use up the cap.
   */
  knownOperations?: readonly string[];
}

/** Codes that mean the server failed, not the request; any other code is the client's error. */
const SERVER_ERROR_CODES = new Set(['INTERNAL', 'INTERNAL_SERVER_ERROR']);

const OPERATION_NAME = /^[_A-Za-z][_0-9A-Za-z]{0,99}$/;

type Outcome = 'success' | 'client_error' | 'server_error';

function responseErrors(response: GraphQLResponse): ReadonlyArray<{ extensions?: unknown }> {
  const body = response.body;
  const errors = body.kind === 'single' ? body.singleResult.errors : body.initialResult.errors;
  return errors ?? [];
}

/**
 * The Apollo Server plugin that times GraphQL operations (app_graphql_operation_duration_seconds
 * by operation name, type and outcome), counts response errors by code, and adds the operation
 * name and type to the request's log line. Operation names are client input, so only the first
 * `maxOperationNames` distinct ones become label values; anonymous operations, requests that never
 * resolved an operation and names past the cap all fold into `__other__`.
 */
export function createGraphqlMetricsPlugin<TContext extends BaseContext = BaseContext>(
  deps: Pick<AppDeps, 'metrics'>,
  options: GraphqlMetricsOptions = {},
): ApolloServerPlugin<TContext> {
  const { metrics } = deps;
  const names = new BoundedLabel(
    Math.max(options.maxOperationNames ?? 50, options.knownOperations?.length ?? 0),
    OTHER_OPERATION,
  );
  for (const name of options.knownOperations ?? []) names.value(name);
  const codes = new BoundedLabel(30, 'OTHER');

  return {
    async requestDidStart() {
      const started = process.hrtime.bigint();
      let operation = OTHER_OPERATION;
      let type = 'unknown';
      return {
        async didResolveOperation(requestContext) {
          const name = requestContext.operationName;
          type = requestContext.operation?.operation ?? 'unknown';
          if (name && OPERATION_NAME.test(name)) operation = names.value(name);
          annotateCurrentRequest({ operationName: name ?? null, operationType: type });
        },
        async willSendResponse(requestContext) {
          const seconds = Number(process.hrtime.bigint() - started) / 1e9;
          let outcome: Outcome = 'success';
          for (const error of responseErrors(requestContext.response)) {
            const code = (error.extensions as { code?: unknown } | undefined)?.code;
            const label = typeof code === 'string' ? code : 'NONE';
            metrics.graphqlErrors.inc({ code: codes.value(label) });
            if (SERVER_ERROR_CODES.has(label) || label === 'NONE') outcome = 'server_error';
            else if (outcome === 'success') outcome = 'client_error';
          }
          metrics.graphqlOperationDuration.observe({ operation, type, outcome }, seconds);
          if (outcome === 'server_error') {
            const observation = currentObservation();
            const companyId = observation?.annotations.companyId;
            if (observation && typeof companyId === 'string' && !observation.serverErrorCounted) {
              observation.serverErrorCounted = true;
              countTenantServerError(metrics, companyId);
            }
          }
        },
      };
    },
  };
}
