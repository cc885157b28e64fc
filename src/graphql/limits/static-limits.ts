import { createHash } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import {
  GraphQLError,
  Kind,
  specifiedRules,
  validate,
  type DocumentNode,
  type GraphQLSchema,
  type OperationTypeNode,
  type ValidationContext,
} from 'graphql';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import { MaxTokensParserWLexer } from '@escape.tech/graphql-armor-max-tokens';
import type { GraphqlLimitsConfig } from '../../config';
import { AppError } from '../../errors/app-error';
import { requestIdOf } from '../../http/request-id';
import { operationCost, QueryLimitError } from './cost-model';
import type { LimitHits } from './limit-metrics';
import type { PersistedOperations } from './persisted-operations';

/** What the static checks learnt about the operation, for the points bucket later in the request. */
export interface StaticCost {
  cost: number;
  operation: OperationTypeNode | undefined;
}

/**
 * The costs computed here, by the request body they were computed for: Apollo Server hands the
 * same body object to its plugins (an async-local store would tax every promise of the request).
 */
const costs = new WeakMap<object, StaticCost>();

/** The cost the static checks computed for a request body, if they ran. */
export function staticCostOf(body: unknown): StaticCost | undefined {
  return body && typeof body === 'object' ? costs.get(body) : undefined;
}

interface Checked {
  document?: DocumentNode;
  /** A limit the document itself exceeds (tokens, depth, aliases, directives, fragment cycle). */
  limit?: QueryLimitError;
  /** Whether the document passed the specification's validation (else Apollo answers it). */
  valid: boolean;
  /** Costs computed for this document, by operation name and variables (small ones only). */
  costs?: Map<string, number>;
}

/** Variables longer than this (as JSON) are priced afresh each time instead of remembered. */
const COST_KEY_LIMIT = 512;
/** Remembered costs per document. */
const COSTS_PER_DOCUMENT = 64;

/** Distinct documents whose checks are remembered; the oldest is dropped past this. */
const CACHE_SIZE = 1000;

const limitOf = (error: GraphQLError): string | undefined => {
  const limit = error.extensions?.limit;
  return typeof limit === 'string' ? limit : undefined;
};

const found = (message: string): number | undefined => {
  const m = /found (\d+)/.exec(message);
  return m ? Number(m[1]) : undefined;
};

function armorRule(limit: string, max: number, what: string) {
  return {
    n: max,
    exposeLimits: true,
    propagateOnRejection: false,
    onReject: [
      (context: ValidationContext | null, error: GraphQLError) => {
        const actual = found(error.message);
        context?.reportError(
          new GraphQLError(`The operation exceeds the ${what} limit of ${max}`, {
            extensions: { limit, max, ...(actual !== undefined ? { actual } : {}) },
          }),
        );
      },
    ],
  };
}

/**
 * Express middleware in front of Apollo Server that refuses, before authentication and before any
 * SQL, what no client needs: batched requests, oversized documents, too many tokens, too deep, too
 * many aliases or directives, fragment cycles, page sizes out of range and operations costing more
 * than the limit. The parse and validation of a document are remembered (by its text), so a
 * repeated operation only pays for the cost walk with its variables.
 */
export function staticLimitsMiddleware(options: {
  schema: GraphQLSchema;
  limits: GraphqlLimitsConfig;
  persisted?: PersistedOperations;
  hits: LimitHits;
}) {
  const { schema, limits, persisted, hits } = options;
  const rules = [
    ...specifiedRules,
    maxDepthRule(armorRule('depth', limits.maxDepth, 'depth')),
    maxAliasesRule(armorRule('aliases', limits.maxAliases, 'aliases')),
    maxDirectivesRule(armorRule('directives', limits.maxDirectives, 'directives')),
  ];
  const cache = new Map<string, Checked>();

  const check = (query: string): Checked => {
    const cached = cache.get(query);
    if (cached) return cached;
    let result: Checked;
    let document: DocumentNode | undefined;
    try {
      document = new MaxTokensParserWLexer(query, { n: limits.maxTokens }).parseDocument();
    } catch (err) {
      const tokens = err instanceof GraphQLError && /Token limit/.test(err.message);
      result = tokens
        ? {
            valid: false,
            limit: new QueryLimitError(
              'tokens',
              limits.maxTokens,
              undefined,
              `The operation exceeds the token limit of ${limits.maxTokens}`,
            ),
          }
        : { valid: false };
    }
    if (document) {
      const errors = validate(schema, document, rules, { maxErrors: 50 });
      const limitError = errors.find((e) => limitOf(e) !== undefined);
      const cycle = errors.find((e) => /within itself/.test(e.message));
      if (limitError) {
        const ext = limitError.extensions as { limit: string; max: number; actual?: number };
        result = {
          document,
          valid: false,
          limit: new QueryLimitError(ext.limit, ext.max, ext.actual, limitError.message),
        };
      } else if (cycle) {
        result = {
          document,
          valid: false,
          limit: new QueryLimitError(
            'fragmentCycle',
            0,
            undefined,
            `Fragment cycles are not allowed: ${cycle.message}`,
          ),
        };
      } else {
        result = { document, valid: errors.length === 0 };
      }
    }
    result ??= { valid: false };
    if (cache.size >= CACHE_SIZE) {
      const oldest = cache.keys().next();
      if (!oldest.done) cache.delete(oldest.value);
    }
    cache.set(query, result);
    return result;
  };

  const reject = (req: Request, res: Response, status: number, error: GraphQLError) => {
    const limit = limitOf(error) ?? 'other';
    hits.count(limit, req);
    res.status(status).json({
      errors: [
        {
          message: error.message,
          extensions: { ...error.extensions, requestId: requestIdOf(req) },
        },
      ],
    });
  };
  const limitError = (e: QueryLimitError) =>
    new GraphQLError(e.message, {
      extensions: {
        code: 'QUERY_LIMIT_EXCEEDED',
        limit: e.limit,
        max: e.max,
        ...(e.actual !== undefined ? { actual: e.actual } : {}),
      },
    });

  return (req: Request, res: Response, next: NextFunction): void => {
    if (Array.isArray(req.body)) {
      reject(
        req,
        res,
        400,
        new GraphQLError('Batched operations are not accepted: send one operation per request', {
          extensions: { code: 'QUERY_LIMIT_EXCEEDED', limit: 'batching', max: 1 },
        }),
      );
      return;
    }
    const get = req.method === 'GET';
    const source = (get ? req.query : req.body) as Record<string, unknown> | undefined;
    if (!source || typeof source !== 'object') {
      next();
      return;
    }
    let query = source.query;
    const extensions = parseMaybeJson(source.extensions) as
      { persistedQuery?: { sha256Hash?: unknown } } | undefined;
    const hash = extensions?.persistedQuery?.sha256Hash;
    if (persisted && typeof hash === 'string' && typeof query !== 'string') {
      const text = persisted.byHash(hash);
      if (text !== undefined) {
        query = text;
        if (get) {
          Object.defineProperty(req, 'query', { value: { ...source, query: text } });
        } else {
          source.query = text;
        }
      }
    }
    if (typeof query !== 'string') {
      next();
      return;
    }
    if (
      persisted &&
      limits.persistedOperationsOnly &&
      !/^Bearer\s+vat_/i.test(req.header('authorization') ?? '') &&
      persisted.byHash(createHash('sha256').update(query).digest('hex')) === undefined
    ) {
      reject(
        req,
        res,
        400,
        new GraphQLError('Only persisted operations are accepted from this client', {
          extensions: { code: 'PERSISTED_QUERY_NOT_FOUND', limit: 'persistedOnly' },
        }),
      );
      return;
    }
    const bytes = Buffer.byteLength(query, 'utf8');
    if (bytes > limits.maxDocumentBytes) {
      reject(
        req,
        res,
        413,
        limitError(
          new QueryLimitError(
            'documentSize',
            limits.maxDocumentBytes,
            bytes,
            `The operation document exceeds the size limit of ${limits.maxDocumentBytes} bytes`,
          ),
        ),
      );
      return;
    }
    const checked = check(query);
    if (checked.limit) {
      reject(req, res, 400, limitError(checked.limit));
      return;
    }
    if (!checked.valid || !checked.document) {
      // Not valid GraphQL: Apollo answers with its usual parse or validation error, before
      // authentication runs anything.
      next();
      return;
    }
    const variables = parseMaybeJson(source.variables);
    const operationName =
      typeof source.operationName === 'string' ? source.operationName : undefined;
    const operation = operationOf(checked.document, operationName);
    let cost: number | undefined;
    // The walk takes longer than the rest of these checks: a repeated operation with the same
    // variables (a page of appointments, a dashboard) is priced once.
    const variablesJson = variables === undefined ? '' : JSON.stringify(variables);
    const costKey =
      variablesJson.length <= COST_KEY_LIMIT
        ? `${operationName ?? ''}\u0000${variablesJson}`
        : undefined;
    if (costKey !== undefined) cost = checked.costs?.get(costKey);
    try {
      if (cost === undefined) {
        cost = operationCost(
          schema,
          checked.document,
          variables && typeof variables === 'object' ? (variables as Record<string, unknown>) : {},
          operationName,
        );
        if (costKey !== undefined) {
          checked.costs ??= new Map();
          if (checked.costs.size >= COSTS_PER_DOCUMENT) checked.costs.clear();
          checked.costs.set(costKey, cost);
        }
      }
    } catch (err) {
      if (err instanceof QueryLimitError) {
        reject(req, res, 400, limitError(err));
        return;
      }
      if (err instanceof AppError) {
        reject(
          req,
          res,
          400,
          new GraphQLError(err.message, {
            extensions: { code: err.code, ...(err.field ? { field: err.field } : {}) },
          }),
        );
        return;
      }
      // Variables that do not fit the operation: Apollo refuses them before execution. Should it
      // not, the operation is charged the most an operation may cost.
      cost = limits.maxCost;
    }
    if (cost > limits.maxCost) {
      reject(
        req,
        res,
        400,
        limitError(
          new QueryLimitError(
            'cost',
            limits.maxCost,
            cost,
            `The operation costs ${cost} points, more than the limit of ${limits.maxCost} per operation`,
          ),
        ),
      );
      return;
    }
    if (!get) costs.set(source, { cost, operation });
    next();
  };
}

function parseMaybeJson(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return undefined;
  }
}

function operationOf(
  document: DocumentNode,
  operationName: string | undefined,
): OperationTypeNode | undefined {
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
    if (operationName === undefined || definition.name?.value === operationName) {
      return definition.operation;
    }
  }
  return undefined;
}
