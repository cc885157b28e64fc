import {
  getNamedType,
  isLeafType,
  type DocumentNode,
  type GraphQLField,
  type GraphQLSchema,
} from 'graphql';
import { getComplexity, type ComplexityEstimator } from 'graphql-query-complexity';
import { AppError } from '../../errors/app-error';

/**
 * The cost model of the GraphQL API, documented for partners in docs/api-limits.md:
 *
 * - scalar and enum fields are free;
 * - an object field costs 1 plus what is selected inside it;
 * - a connection (a field with `first`/`last`) costs 1 + size × what is selected inside it, the
 *   size being `first` or `last` (100 when neither is given);
 * - a mutation costs 10 plus its selection;
 * - expensive fields declare their price next to the field with `@Extensions({ cost })`: a fixed
 *   number added to the selection, or a function of the arguments (`availableSlots`, `nodes`).
 *
 * A change of the schema that changes a cost shows in test/graphql/cost-model.test.ts, which pins
 * the cost of representative operations.
 */

/** The largest page of a connection; the same bound as the resolvers' (src/graphql/connection.ts). */
export const COST_MAX_PAGE_SIZE = 100;
export const MUTATION_COST = 10;

export interface CostInput {
  args: Record<string, unknown>;
  /** The cost of what the operation selects inside the field. */
  childComplexity: number;
}

/** A declared field cost: added to the selection's cost, or a function of the arguments. */
export type FieldCost = number | ((input: CostInput) => number);

/** The field extension that declares a cost: `@Extensions(cost(...))`. */
export const cost = (value: FieldCost): { cost: FieldCost } => ({ cost: value });

/** Opening hours assumed per day when pricing slots (a 12-hour day). */
export const SLOT_DAY_MINUTES = 12 * 60;
/** Staff assumed when `availableSlots` is not narrowed to one staff member. */
export const SLOT_ASSUMED_STAFF = 5;
/** The booking policy's default slot step. */
export const SLOT_DEFAULT_STEP = 15;
export const SLOT_MAX_DAYS = 31;

const LOCAL_DATE = /^\d{4}-\d{2}-\d{2}$/;
const DAY_MS = 86_400_000;

/** Days a `from`/`to` pair spans (a local-date `to` includes its day); the maximum when unreadable. */
export function rangeDays(from: unknown, to: unknown): number {
  if (typeof from !== 'string' || typeof to !== 'string') return SLOT_MAX_DAYS;
  const start = Date.parse(LOCAL_DATE.test(from.trim()) ? `${from.trim()}T00:00:00Z` : from);
  const toLocal = LOCAL_DATE.test(to.trim());
  let end = Date.parse(toLocal ? `${to.trim()}T00:00:00Z` : to);
  if (Number.isNaN(start) || Number.isNaN(end)) return SLOT_MAX_DAYS;
  if (toLocal) end += DAY_MS;
  const days = Math.ceil((end - start) / DAY_MS);
  return Math.min(SLOT_MAX_DAYS, Math.max(1, days));
}

/** Slots `availableSlots` answers when `first` is not given. */
export const SLOT_PAGE_DEFAULT = 50;

/**
 * `availableSlots`: the answer is a page of at most `first` slots (default 50, at most 100), priced
 * like a connection page, `first` × the selection; plus the walk over the range, one per day and
 * staff member (what a sparse calendar costs before `first` slots are found). A page larger than the
 * slots the range can hold (days × staff × slots per day at `stepMinutes`) is priced at that.
 */
export const availableSlotsCost: FieldCost = ({ args, childComplexity }) => {
  const days = rangeDays(args.from, args.to);
  const rawStep = args.stepMinutes;
  const step =
    typeof rawStep === 'number' && Number.isInteger(rawStep) && rawStep >= 5 && rawStep <= 240
      ? rawStep
      : SLOT_DEFAULT_STEP;
  const staff = args.staffId ? 1 : SLOT_ASSUMED_STAFF;
  const first = typeof args.first === 'number' ? args.first : SLOT_PAGE_DEFAULT;
  const possible = days * staff * Math.ceil(SLOT_DAY_MINUTES / step);
  return 1 + days * staff + Math.min(first, possible) * Math.max(1, childComplexity);
};

/** `nodes(ids)`: each id is a lookup of its own, priced like `node(id)`. */
export const nodesCost: FieldCost = ({ args, childComplexity }) => {
  const count = Array.isArray(args.ids) ? Math.max(1, args.ids.length) : 1;
  return count * (1 + childComplexity);
};

/** The dashboard runs five aggregates over a day of appointments, calls and callbacks. */
export const DASHBOARD_COST = 10;
/** Webhook statistics aggregate the inbox. */
export const WEBHOOK_STATS_COST = 10;
/** A connection's total count is one counting query. */
export const TOTAL_COUNT_COST = 1;

/** A limit an operation exceeds; answered before any SQL runs. */
export class QueryLimitError extends Error {
  constructor(
    readonly limit: string,
    readonly max: number,
    readonly actual: number | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'QueryLimitError';
  }
}

function pagingSize(field: GraphQLField<unknown, unknown>, args: Record<string, unknown>) {
  const hasPaging = field.args.some((a) => a.name === 'first' || a.name === 'last');
  if (!hasPaging) return undefined;
  for (const name of ['first', 'last'] as const) {
    const value = args[name];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
      throw new AppError('BAD_USER_INPUT', `${name} must be from 1 to ${COST_MAX_PAGE_SIZE}`, {
        field: name,
      });
    }
    if (value > COST_MAX_PAGE_SIZE) {
      throw new AppError('BAD_USER_INPUT', `${name} must be from 1 to ${COST_MAX_PAGE_SIZE}`, {
        field: name,
      });
    }
  }
  const size = (args.first ?? args.last) as number | undefined;
  return size ?? COST_MAX_PAGE_SIZE;
}

/** The estimator that applies the model above; first/last out of range is BAD_USER_INPUT. */
export const costEstimator: ComplexityEstimator = ({ type, field, args, childComplexity }) => {
  const size = pagingSize(field, args);
  const declared = field.extensions?.cost as FieldCost | undefined;
  if (typeof declared === 'function') return Math.ceil(declared({ args, childComplexity }));
  if (typeof declared === 'number') return declared + childComplexity;
  if (field.name.startsWith('__')) return childComplexity;
  if (size !== undefined) return 1 + size * childComplexity;
  if (type.name === 'Mutation') return MUTATION_COST + childComplexity;
  if (isLeafType(getNamedType(field.type))) return 0;
  return 1 + childComplexity;
};

/** Largest number of fields the cost walk visits before it gives up (a guard of its own). */
export const MAX_QUERY_NODES = 20_000;

/**
 * The cost of one operation of a document with its variables. Throws QueryLimitError past the node
 * guard, AppError(BAD_USER_INPUT) for a page size out of range, and GraphQLError for variables or
 * documents that do not fit the schema (Apollo then answers those as usual).
 */
export function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown> | undefined,
  operationName: string | undefined,
): number {
  try {
    return getComplexity({
      schema,
      query: document,
      variables,
      operationName,
      estimators: [costEstimator],
      maxQueryNodes: MAX_QUERY_NODES,
    });
  } catch (err) {
    if (err instanceof Error && /maximum allowed number of nodes/i.test(err.message)) {
      throw new QueryLimitError(
        'nodes',
        MAX_QUERY_NODES,
        undefined,
        `The operation selects more than ${MAX_QUERY_NODES} fields`,
      );
    }
    throw err;
  }
}

/** The objects of an answer and its approximate size as JSON, from one walk over it. */
export interface AnswerMeasure {
  objects: number;
  /** Approximate length of the answer as JSON (escapes and number digits estimated). */
  bytes: number;
}

/**
 * Walks an answer once: counts its objects (each list item counts) and estimates its size as JSON,
 * for the actual cost and the answer-size cap without serializing the answer twice.
 */
export function measureAnswer(data: unknown): AnswerMeasure {
  let objects = 0;
  let bytes = 0;
  const walk = (value: unknown, depth: number): void => {
    if (value === null || value === undefined) {
      bytes += 4;
      return;
    }
    const type = typeof value;
    if (type === 'string') {
      bytes += (value as string).length + 2;
      return;
    }
    if (type !== 'object') {
      bytes += 8;
      return;
    }
    if (Array.isArray(value)) {
      bytes += 2 + value.length;
      for (let i = 0; i < value.length; i += 1) walk(value[i], depth + 1);
      return;
    }
    // Scalars may serialize to objects of their own (a DateTime is a Date until JSON): only plain
    // objects are objects of the answer.
    const proto = Object.getPrototypeOf(value) as unknown;
    if ((proto !== Object.prototype && proto !== null) || depth > 64) {
      bytes += 32;
      return;
    }
    if (depth > 0) objects += 1;
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record);
    bytes += 2;
    for (let i = 0; i < keys.length; i += 1) {
      bytes += keys[i].length + 4;
      walk(record[keys[i]], depth + 1);
    }
  };
  walk(data, 0);
  return { objects, bytes };
}

/**
 * What an operation actually cost once answered: the objects in its answer (each list item counts),
 * at least the base cost of each mutation, and never more than the requested cost.
 */
export function actualCost(
  data: unknown,
  requested: number,
  operation: 'query' | 'mutation' | 'subscription' | undefined,
  objects = measureAnswer(data).objects,
): number {
  let total = objects;
  if (operation === 'mutation' && data && typeof data === 'object') {
    total += Object.keys(data).length * MUTATION_COST;
  }
  return Math.min(requested, total);
}
