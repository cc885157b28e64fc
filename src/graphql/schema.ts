import {
  GraphQLObjectType,
  defaultFieldResolver,
  getNamedType,
  getNullableType,
  isObjectType,
  type GraphQLSchema,
} from 'graphql';
import { buildSchemaSync } from 'type-graphql';
import { DateTimeResolver } from 'graphql-scalars';
import { toGlobalId } from './global-id';
import { RESOLVERS } from '../resolvers';
import { resolveJoinedRelationsDirectly } from '../resolvers/appointment';
import { validateTextArguments } from './text-input';
import type { GraphQLContext } from './context';
import { decodeCursor, KEYSET_CONNECTIONS } from './connection';

let cached: GraphQLSchema | undefined;

const NO_TOPIC_PUBSUB = {
  publish: (): void => {
    throw new Error('subscriptions publish through the live bus (src/live/bus.ts)');
  },
  subscribe: (): never => {
    throw new Error('subscriptions subscribe through the live bus (src/live/bus.ts)');
  },
};

/**
 * The executable schema, built once per process from the type-graphql classes (code first) and
 * emitted to schema/schema.graphql by `npm run schema:emit`.
 */
export function buildAppSchema(): GraphQLSchema {
  if (cached) return cached;
  const schema = buildSchemaSync({
    resolvers: RESOLVERS,
    scalarsMap: [{ type: Date, scalar: DateTimeResolver }],
    validate: false,
    emitSchemaFile: false,
    // Every subscription brings its own `subscribe` (src/live/stream.ts); type-graphql's topic-based
    // pub/sub is not used.
    pubSub: NO_TOPIC_PUBSUB,
  });
  resolveGlobalIds(schema);
  resolveJoinedRelationsDirectly(schema);
  // Each step wraps the resolvers the previous one left, so the last is outermost: arguments are
  // checked (text, then cursors) before a mutation field opens its transaction.
  transactionPerMutationField(schema);
  checkCursorsFirst(schema);
  validateTextArguments(schema);
  cached = schema;
  return schema;
}

/**
 * The `id` of every Node type is the opaque global id of its row: `Type:companyId:uuid`, resolved
 * synchronously from the row itself (no per-row promise).
 */
function resolveGlobalIds(schema: GraphQLSchema): void {
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type)) continue;
    if (!type.getInterfaces().some((i) => i.name === 'Node')) continue;
    const field = (type as GraphQLObjectType).getFields().id;
    const name = type.name;
    field.resolve = (row: { id: string; companyId: string }) =>
      toGlobalId(name, row.companyId, row.id);
  }
}

/**
 * Each root mutation field runs in a transaction of its own, committed before the field's value is
 * returned (root mutation fields execute one after the other); a failure rolls back that field
 * alone and is reported on it. The fields are nullable so that a failing field does not null the
 * whole answer: the fields before it were committed and their results stay in `data`.
 */
function transactionPerMutationField(schema: GraphQLSchema): void {
  const mutation = schema.getMutationType();
  if (!mutation) return;
  for (const field of Object.values(mutation.getFields())) {
    const resolve = field.resolve ?? defaultFieldResolver;
    field.type = getNullableType(field.type);
    field.resolve = (source, args, context: GraphQLContext, info) =>
      context.ctx.inFieldTransaction(() => resolve(source, args, context, info));
  }
}

/**
 * The `after` and `before` cursors of every keyset connection are decoded and checked before its
 * resolver runs, so a malformed, forged or foreign cursor is refused before any SQL (not even the
 * transaction is opened); `paginate` checks again that the cursor belongs to the chosen order.
 */
function checkCursorsFirst(schema: GraphQLSchema): void {
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    for (const field of Object.values(type.getFields())) {
      if (!KEYSET_CONNECTIONS.has(getNamedType(field.type).name)) continue;
      const cursorArgs = field.args
        .map((a) => a.name)
        .filter((name) => name === 'after' || name === 'before');
      if (cursorArgs.length === 0) continue;
      const resolve = field.resolve ?? defaultFieldResolver;
      field.resolve = (source, args: Record<string, unknown>, context: GraphQLContext, info) => {
        for (const name of cursorArgs) {
          const value = args[name];
          if (value !== undefined && value !== null) decodeCursor(context.ctx, value, name);
        }
        return resolve(source, args, context, info);
      };
    }
  }
}
