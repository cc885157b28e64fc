import { GraphQLObjectType, isObjectType, type GraphQLSchema } from 'graphql';
import { buildSchemaSync } from 'type-graphql';
import { DateTimeResolver } from 'graphql-scalars';
import { toGlobalId } from './global-id';
import { RESOLVERS } from '../resolvers';
import { validateTextArguments } from './text-input';

let cached: GraphQLSchema | undefined;

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
  });
  resolveGlobalIds(schema);
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
