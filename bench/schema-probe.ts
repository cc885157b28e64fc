import {
  buildClientSchema,
  getIntrospectionQuery,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  isUnionType,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLOutputType,
  type GraphQLSchema,
  type IntrospectionQuery,
} from 'graphql';
import { graphql } from './http';

/**
 * Finds out at run time what the server offers: the schema by introspection (so operations that
 * other engineers are still adding are measured when present and skipped otherwise), and builds
 * queries for fields whose argument shapes are not fixed yet by filling arguments by name.
 */

export async function introspect(baseUrl: string, token: string): Promise<GraphQLSchema> {
  const res = await graphql<IntrospectionQuery>(baseUrl, getIntrospectionQuery(), {}, token);
  if (!res.data) throw new Error(`introspection failed: ${JSON.stringify(res.errors)}`);
  return buildClientSchema(res.data);
}

/**
 * Values by argument or input field name. A provider returning undefined leaves the field out;
 * a required field that no provider fills makes the operation unbuildable.
 */
export type Providers = Record<string, (type: GraphQLInputType) => unknown>;

export interface BuiltOperation {
  /** The document, with one variable per top-level argument. */
  query: string;
  /** Variables for one request (may contain placeholder strings the caller replaces). */
  variables: Record<string, unknown>;
  /** Argument names that were filled, for the report. */
  filled: string[];
}

class Unfillable extends Error {}

/** What a provider returns to have an input object filled field by field. */
export const RECURSE = Symbol('recurse');

function fill(type: GraphQLInputType, name: string, providers: Providers, path: string): unknown {
  const required = isNonNullType(type);
  const inner = required ? type.ofType : type;
  const named = getNamedType(inner);
  const wrap = (v: unknown) => (isListType(inner) && !Array.isArray(v) ? [v] : v);
  const provided = providers[name]?.(inner);
  const recurse = provided === RECURSE || (provided === undefined && required);
  if (recurse && isInputObjectType(named)) {
    const out: Record<string, unknown> = {};
    for (const field of Object.values(named.getFields())) {
      const needed = isNonNullType(field.type) && field.defaultValue === undefined;
      if (!needed && !providers[field.name]) continue;
      const v = fill(field.type, field.name, providers, `${path}.${field.name}`);
      if (v !== undefined) out[field.name] = v;
    }
    return wrap(out);
  }
  if (provided !== undefined && provided !== RECURSE) return wrap(provided);
  if (required && isEnumType(named)) return wrap(named.getValues()[0].name);
  if (required) throw new Unfillable(`no value for required ${path} (${String(type)})`);
  return undefined;
}

/**
 * A selection of the fields of `type` as a client would write it: scalars of the result and of
 * the objects directly in it; objects deeper down (the staff member of each slot) by `id` and
 * `name` only. Fields that take arguments are left out (a connection without `first` is an
 * error), and the size is capped.
 */
export function selectionOf(
  type: GraphQLOutputType,
  depth = 2,
  budget = { left: 40 },
  level = 0,
): string {
  const named = getNamedType(type);
  if (isLeafType(named)) return '';
  if (isUnionType(named) || isInterfaceType(named)) return '{ __typename }';
  if (!isObjectType(named)) return '{ __typename }';
  const fields = Object.values(named.getFields()) as GraphQLField<unknown, unknown>[];
  if (level >= 2 && fields.some((f) => f.name === 'id')) {
    return `{ ${fields
      .filter((f) => f.name === 'id' || f.name === 'name')
      .map((f) => f.name)
      .join(' ')} }`;
  }
  const parts: string[] = [];
  for (const field of fields) {
    if (budget.left <= 0) break;
    if (field.args.length > 0) continue;
    const fieldType = getNamedType(field.type);
    if (isLeafType(fieldType)) {
      parts.push(field.name);
      budget.left -= 1;
    } else if (depth > 0) {
      const sub = selectionOf(field.type, depth - 1, budget, level + 1);
      if (sub) parts.push(`${field.name} ${sub}`);
    }
  }
  return parts.length ? `{ ${parts.join(' ')} }` : '{ __typename }';
}

/** Builds `query|mutation Op($a: T, ...) { field(a: $a, ...) { selection } }`, or explains why not. */
export function buildOperation(
  schema: GraphQLSchema,
  kind: 'query' | 'mutation',
  fieldName: string,
  providers: Providers,
  depth = 2,
): BuiltOperation | { missing: string } {
  const root = kind === 'query' ? schema.getQueryType() : schema.getMutationType();
  const field = root?.getFields()[fieldName];
  if (!field) return { missing: `${kind} field ${fieldName} is not in the schema` };
  const variables: Record<string, unknown> = {};
  const defs: string[] = [];
  const args: string[] = [];
  const filled: string[] = [];
  try {
    for (const arg of field.args) {
      const value = fill(arg.type, arg.name, providers, arg.name);
      if (value === undefined) continue;
      variables[arg.name] = value;
      defs.push(`$${arg.name}: ${String(arg.type)}`);
      args.push(`${arg.name}: $${arg.name}`);
      filled.push(arg.name);
    }
  } catch (err) {
    if (err instanceof Unfillable) return { missing: `${fieldName}: ${err.message}` };
    throw err;
  }
  const selection = selectionOf(field.type, depth);
  const name = fieldName[0].toUpperCase() + fieldName.slice(1);
  const query = `${kind} Bench${name}${defs.length ? `(${defs.join(', ')})` : ''} { ${fieldName}${
    args.length ? `(${args.join(', ')})` : ''
  } ${selection} }`;
  return { query, variables, filled };
}

/** The field's signature as SDL-ish text, for the report. */
export function signature(schema: GraphQLSchema, kind: 'query' | 'mutation', name: string): string {
  const root = kind === 'query' ? schema.getQueryType() : schema.getMutationType();
  const field = root?.getFields()[name];
  if (!field) return '';
  const args = field.args.map((a) => `${a.name}: ${String(a.type)}`).join(', ');
  return `${name}(${args}): ${String(field.type)}`;
}

/** Whether the named input type is a date (YYYY-MM-DD) rather than a date-time. */
export function isDateOnly(type: GraphQLInputType): boolean {
  const named = getNamedType(type);
  return /^(Date|LocalDate|Day)$/.test(named.name);
}
