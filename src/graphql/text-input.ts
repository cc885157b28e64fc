import {
  defaultFieldResolver,
  GraphQLEnumType,
  GraphQLInputObjectType,
  GraphQLScalarType,
  isIntrospectionType,
  isListType,
  isNonNullType,
  isObjectType,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLSchema,
} from 'graphql';
import { badInput } from '../errors/app-error';
import {
  jsonProblem,
  MULTI_LINE_MAX,
  ruleFor,
  textProblem,
  type TextRule,
} from '../validation/text';

/**
 * Checks every text a client sends through GraphQL before any resolver sees it: each String and
 * ID argument and input field (and the strings inside JSON arguments), however deeply nested, is
 * refused with BAD_USER_INPUT naming its path (`input.name`, `ids.2`) when it holds NUL, an
 * unpaired surrogate, a control character in a single-line field, or is longer than its field's
 * limit (`MULTI_LINE_FIELDS` allow line breaks and 10,000 characters, the rest 1,000).
 *
 * The checks are planned once per schema from the argument types; only fields that take text are
 * wrapped, so fields without arguments cost nothing.
 */

type Check = (value: unknown, path: string) => void;

const NUMERIC_OR_BOOLEAN = new Set(['Int', 'Float', 'Boolean']);

function stringCheck(rule: TextRule): Check {
  return (value, path) => {
    if (typeof value !== 'string') return;
    const problem = textProblem(value, rule);
    if (problem) throw badInput(path, `${path} ${problem}`);
  };
}

const jsonCheck: Check = (value, path) => {
  const found = jsonProblem(value, { maxDepth: 32, maxString: MULTI_LINE_MAX });
  if (found) {
    const at = found.path ? `${path}.${found.path}` : path;
    throw badInput(path, `${at} ${found.problem}`);
  }
};

class Planner {
  private readonly inputPlans = new Map<GraphQLInputObjectType, Map<string, Check>>();

  /** A check for a value of `type` named `name`, or null when it can hold no text. */
  plan(type: GraphQLInputType, name: string): Check | null {
    if (isNonNullType(type)) return this.plan(type.ofType, name);
    if (isListType(type)) {
      const item = this.plan(type.ofType, name);
      if (!item) return null;
      return (value, path) => {
        if (!Array.isArray(value)) {
          item(value, path);
          return;
        }
        value.forEach((v, i) => item(v, `${path}.${i}`));
      };
    }
    if (type instanceof GraphQLEnumType) return null;
    if (type instanceof GraphQLScalarType) {
      if (NUMERIC_OR_BOOLEAN.has(type.name)) return null;
      if (type.name === 'JSONObject' || type.name === 'JSON') return jsonCheck;
      // String, ID and string-valued custom scalars (e-mail addresses); Dates pass through.
      return stringCheck(ruleFor(name));
    }
    return this.planInput(type);
  }

  private planInput(type: GraphQLInputObjectType): Check | null {
    let fields = this.inputPlans.get(type);
    if (!fields) {
      fields = new Map();
      // Registered before the fields are planned, so a self-referencing input ends.
      this.inputPlans.set(type, fields);
      for (const field of Object.values(type.getFields())) {
        const check = this.plan(field.type, field.name);
        if (check) fields.set(field.name, check);
      }
    }
    const plan = fields;
    return (value, path) => {
      if (typeof value !== 'object' || value === null) return;
      for (const [name, check] of plan) {
        const v = (value as Record<string, unknown>)[name];
        if (v !== undefined && v !== null) check(v, `${path}.${name}`);
      }
    };
  }
}

function wrap(field: GraphQLField<unknown, unknown>, checks: [string, Check][]): void {
  const resolve = field.resolve ?? defaultFieldResolver;
  field.resolve = (source, args: Record<string, unknown>, context, info) => {
    for (const [name, check] of checks) {
      const value = args[name];
      if (value !== undefined && value !== null) check(value, name);
    }
    return resolve(source, args, context, info);
  };
}

/** Wraps every field of `schema` that takes text so its arguments are checked first. */
export function validateTextArguments(schema: GraphQLSchema): GraphQLSchema {
  const planner = new Planner();
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || isIntrospectionType(type)) continue;
    for (const field of Object.values(type.getFields())) {
      const checks: [string, Check][] = [];
      for (const arg of field.args) {
        const check = planner.plan(arg.type, arg.name);
        if (check) checks.push([arg.name, check]);
      }
      if (checks.length) wrap(field, checks);
    }
  }
  return schema;
}
