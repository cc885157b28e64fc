import type { Model, QueryBuilder } from 'objection';
import { ArgsType, Extensions, Field, Int, ObjectType, type ClassType } from 'type-graphql';
import { cost, TOTAL_COUNT_COST } from './limits/cost-model';
import { AppError } from '../errors/app-error';
import { base64url } from './base64url';
import type { RequestContext } from '../context/request-context';

export const MAX_PAGE_SIZE = 100;

// Connection types hold plain values: their fields read properties directly (`simpleResolvers`),
// without a type-graphql wrapper per field and item.
@ObjectType({ description: 'Where a page sits in its connection.', simpleResolvers: true })
export class PageInfo {
  @Field()
  hasNextPage!: boolean;

  @Field()
  hasPreviousPage!: boolean;

  @Field(() => String, { nullable: true })
  startCursor!: string | null;

  @Field(() => String, { nullable: true })
  endCursor!: string | null;
}

@ArgsType()
export class PageArgs {
  @Field(() => Int, {
    nullable: true,
    description: `Items from the start (after \`after\`); 1 to ${MAX_PAGE_SIZE}. Either first or last is required.`,
  })
  first?: number | null;

  @Field(() => String, { nullable: true })
  after?: string | null;

  @Field(() => Int, {
    nullable: true,
    description: `Items from the end (before \`before\`); 1 to ${MAX_PAGE_SIZE}.`,
  })
  last?: number | null;

  @Field(() => String, { nullable: true })
  before?: string | null;
}

export interface Edge<T> {
  node: T;
  cursor: string;
}

/**
 * What a connection resolver returns. `totalCount` is a getter, so its query runs only when the
 * field is asked for (reading the property is what resolves the field).
 */
export interface ConnectionResult<T> {
  edges: Edge<T>[];
  nodes: T[];
  pageInfo: PageInfo;
  readonly totalCount: Promise<number>;
}

/** Names of the connection types built by `connectionOf`, whose cursors `paginate` writes. */
export const KEYSET_CONNECTIONS = new Set<string>();

/**
 * Builds `<Name>Connection` and `<Name>Edge` object types for an item type. A connection whose
 * cursors `paginate` does not write (a platform list with a cursor of its own) passes
 * `{ keyset: false }` and checks its cursors itself.
 */
export function connectionOf<T extends object>(
  itemType: ClassType<T>,
  name: string,
  options: { keyset?: boolean } = {},
) {
  if (options.keyset !== false) KEYSET_CONNECTIONS.add(`${name}Connection`);
  @ObjectType(`${name}Edge`, { simpleResolvers: true })
  class EdgeType {
    @Field(() => itemType)
    node!: T;

    @Field({ description: 'Opaque cursor of this item, for `after` or `before`.' })
    cursor!: string;
  }

  @ObjectType(`${name}Connection`, { simpleResolvers: true })
  class ConnectionType {
    @Field(() => [EdgeType])
    edges!: EdgeType[];

    @Field(() => [itemType], { description: 'The items of the page, without cursors.' })
    nodes!: T[];

    @Field(() => PageInfo)
    pageInfo!: PageInfo;

    @Field(() => Int, { description: 'All items that match the filter; computed only when asked.' })
    @Extensions(cost(TOTAL_COUNT_COST))
    totalCount!: number;
  }
  return { Connection: ConnectionType, Edge: EdgeType };
}

/** The type of a sort value, which decides what a cursor may carry for it. */
export type CursorValueType = 'timestamp' | 'text' | 'number';

/** A sort order a client may choose: an enum value mapped to a fixed, indexed column. */
export interface OrderSpec {
  /** Stable name written into cursors, e.g. 'starts_at'. */
  key: string;
  /** The column (qualified when needed) to sort by; NOT NULL, so keyset comparison is total. */
  column: string;
  direction: 'asc' | 'desc';
  /** The sort value's type; by default a timestamp for keys ending in `_at`, else text. */
  valueType?: CursorValueType;
}

interface CursorPayload {
  c: string; // company
  k: string; // order key
  v: string | number; // sort value
  i: string; // row id
}

/**
 * base64url of the payload as JSON, keys in the order c, k, v, i (the text `JSON.stringify` gives
 * for that object), written out without building the object per row.
 */
export function encodeCursor(
  companyId: string,
  key: string,
  value: string | number,
  id: string,
): string {
  const json = `{"c":${JSON.stringify(companyId)},"k":${JSON.stringify(key)},"v":${JSON.stringify(value)},"i":${JSON.stringify(id)}}`;
  return base64url(json);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const BASE64URL = /^[A-Za-z0-9_-]{1,1024}$/;
const ORDER_KEY = /^[a-z][a-z0-9_]{0,62}$/;
const ISO_INSTANT = /^(\d{4})-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?Z$/;
const CURSOR_KEYS = ['c', 'i', 'k', 'v'];
/** Longest sort text a cursor may carry (names and phone numbers are far shorter). */
const MAX_TEXT_VALUE = 500;

/** The value type of an order key when the order names none. */
export function cursorValueType(key: string): CursorValueType {
  return key.endsWith('_at') ? 'timestamp' : 'text';
}

/** Whether `value` is a sort value of `type` that Postgres takes as it is. */
function validSortValue(value: unknown, type: CursorValueType): boolean {
  switch (type) {
    case 'timestamp': {
      if (typeof value !== 'string') return false;
      const match = ISO_INSTANT.exec(value);
      if (!match || Number(match[1]) < 1) return false;
      const time = Date.parse(value);
      // Rejects impossible dates that Date would roll over (February 30, hour 24).
      return (
        Number.isFinite(time) && new Date(time).toISOString().slice(0, 19) === value.slice(0, 19)
      );
    }
    case 'text':
      return (
        typeof value === 'string' && value.length <= MAX_TEXT_VALUE && !value.includes('\u0000')
      );
    case 'number':
      return (
        typeof value === 'number' &&
        Number.isFinite(value) &&
        Math.abs(value) <= Number.MAX_SAFE_INTEGER
      );
  }
}

/**
 * Decodes and checks a cursor completely before any SQL: base64url of a JSON object with exactly
 * the company (uuid), the order key, a sort value of that key's type and the row id (uuid).
 * Anything else is BAD_USER_INPUT naming `field`; a well-formed cursor of another company is
 * NOT_FOUND and counted as a cross-tenant attempt; one of another sort order is BAD_USER_INPUT.
 */
export function decodeCursor(
  ctx: RequestContext,
  value: unknown,
  field: string,
  order?: Pick<OrderSpec, 'key' | 'valueType'>,
): CursorPayload {
  const invalid = () => new AppError('BAD_USER_INPUT', `${field} is not a valid cursor`, { field });
  if (typeof value !== 'string' || !BASE64URL.test(value)) throw invalid();
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)) throw invalid();
  const p = payload as Record<string, unknown>;
  if (Object.keys(p).sort().join() !== CURSOR_KEYS.join()) throw invalid();
  if (typeof p.c !== 'string' || !UUID.test(p.c)) throw invalid();
  if (typeof p.i !== 'string' || !UUID.test(p.i)) throw invalid();
  if (typeof p.k !== 'string' || !ORDER_KEY.test(p.k)) throw invalid();
  if (!validSortValue(p.v, cursorValueType(p.k))) throw invalid();
  if (p.c.toLowerCase() !== ctx.companyId) {
    ctx.deps.metrics.crossTenantAttempts.inc({ path: 'graphql_cursor' });
    throw new AppError('NOT_FOUND', 'cursor not found', { field });
  }
  if (order) {
    if (p.k !== order.key) {
      throw new AppError('BAD_USER_INPUT', `${field} belongs to another sort order`, { field });
    }
    if (!validSortValue(p.v, order.valueType ?? cursorValueType(order.key))) throw invalid();
  }
  return p as unknown as CursorPayload;
}

function sortValue(value: unknown): string | number {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'number' || typeof value === 'string') return value;
  return String(value);
}

/** Validates first/last: exactly one of them, from 1 to MAX_PAGE_SIZE. */
export function pageSize(args: PageArgs): { size: number; backward: boolean } {
  const hasFirst = args.first !== undefined && args.first !== null;
  const hasLast = args.last !== undefined && args.last !== null;
  if (hasFirst === hasLast) {
    throw new AppError('BAD_USER_INPUT', 'Give either first or last to page through a list', {
      field: hasFirst ? 'last' : 'first',
    });
  }
  const size = (hasFirst ? args.first : args.last) as number;
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) {
    throw new AppError(
      'BAD_USER_INPUT',
      `${hasFirst ? 'first' : 'last'} must be from 1 to ${MAX_PAGE_SIZE}`,
      {
        field: hasFirst ? 'first' : 'last',
      },
    );
  }
  return { size, backward: hasLast };
}

/**
 * How a page's rows are read when the list chooses its columns (and joins) itself: `select` adds
 * them to the page query (never to the count), `read` turns the raw result rows into row objects.
 */
export interface PageReader<M extends Model> {
  select(page: QueryBuilder<M, M[]>): void;
  read(rows: readonly Record<string, unknown>[]): M[];
}

/**
 * Keyset pagination over (sort column, id): stable under inserts, index-friendly, and no OFFSET.
 * `query` is the filtered query; the count query is derived from it only when totalCount is asked.
 * Without a `reader` the page reads whole rows as models.
 */
export async function paginate<M extends Model & { id: string }>(
  ctx: RequestContext,
  query: QueryBuilder<M, M[]>,
  args: PageArgs,
  order: OrderSpec,
  valueOf: (row: M) => unknown,
  reader?: PageReader<M>,
): Promise<ConnectionResult<M>> {
  const { size, backward } = pageSize(args);
  const table = query.tableRefFor(query.modelClass());
  const idColumn = `${table}.id`;
  const forwardDir = order.direction;
  const dir = backward ? (forwardDir === 'asc' ? 'desc' : 'asc') : forwardDir;
  const page = query.clone();

  const after = args.after ? decodeCursor(ctx, args.after, 'after', order) : undefined;
  const before = args.before ? decodeCursor(ctx, args.before, 'before', order) : undefined;
  const cmp = (cursor: CursorPayload, towardsEnd: boolean) => {
    // towardsEnd: rows after the cursor in the forward order
    const op = (forwardDir === 'asc') === towardsEnd ? '>' : '<';
    page.whereRaw(`(??, ??) ${op} (?, ?)`, [order.column, idColumn, cursor.v, cursor.i]);
  };
  if (after) cmp(after, true);
  if (before) cmp(before, false);

  page
    .orderBy(order.column, dir)
    .orderBy(idColumn, dir)
    .limit(size + 1);
  let rows: M[];
  if (reader) {
    reader.select(page);
    // The built statement carries the tenant filter (the builder's onBuild) and runs on the
    // query's transaction; only objection's per-row model mapping is left out.
    rows = reader.read((await page.toKnexQuery()) as Record<string, unknown>[]);
  } else {
    rows = (await page) as M[];
  }
  const hasMore = rows.length > size;
  if (hasMore) rows.pop();
  if (backward) rows.reverse();
  const companyId = ctx.requireCompanyId();
  const edges = rows.map((node) => ({
    node,
    cursor: encodeCursor(companyId, order.key, sortValue(valueOf(node)), node.id),
  }));
  return {
    edges,
    nodes: rows,
    pageInfo: {
      hasNextPage: backward ? Boolean(before) : hasMore,
      hasPreviousPage: backward ? hasMore : Boolean(after),
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges[edges.length - 1]?.cursor ?? null,
    },
    get totalCount() {
      // `query` itself is left as the caller built it (the page is a clone), so the count is
      // cloned from it only when asked for.
      return query.clone().clearOrder().resultSize().then(Number);
    },
  };
}
