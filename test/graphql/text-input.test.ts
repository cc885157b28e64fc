import {
  GraphQLEnumType,
  GraphQLError,
  GraphQLInputObjectType,
  GraphQLScalarType,
  isIntrospectionType,
  isListType,
  isNonNullType,
  isObjectType,
  type GraphQLInputType,
  type GraphQLResolveInfo,
} from 'graphql';
import { AppError } from '../../src/errors/app-error';
import { buildAppSchema } from '../../src/graphql/schema';
import { formatError } from '../../src/graphql/server';
import { jsonDepth, jsonProblem, textProblem, ruleFor } from '../../src/validation/text';

/**
 * Every text slot of the schema, found by walking it (each String, ID or string scalar argument
 * and input field, however nested, list items included): a NUL there is BAD_USER_INPUT naming the
 * slot's path, before the field's resolver runs. A new input is covered without touching this test.
 */

interface TextSlot {
  field: string;
  /** The argument path, as the error names it. */
  path: string;
  /** Arguments with a NUL at the slot. */
  args: Record<string, unknown>;
}

const TEXT_SCALARS = (t: GraphQLScalarType) =>
  !['Int', 'Float', 'Boolean', 'DateTime'].includes(t.name);

/** Values that place `leaf` at every text slot reachable from `type` (one value per slot). */
function placements(
  type: GraphQLInputType,
  leaf: unknown,
  seen: Set<string>,
): { value: unknown; suffix: string }[] {
  if (isNonNullType(type)) return placements(type.ofType, leaf, seen);
  if (isListType(type)) {
    return placements(type.ofType, leaf, seen).map((p) => ({
      value: [p.value],
      suffix: `.0${p.suffix}`,
    }));
  }
  if (type instanceof GraphQLEnumType) return [];
  if (type instanceof GraphQLScalarType) {
    if (!TEXT_SCALARS(type)) return [];
    return [{ value: type.name === 'JSONObject' ? { k: leaf } : leaf, suffix: '' }];
  }
  const input = type as GraphQLInputObjectType;
  if (seen.has(input.name)) return [];
  const out: { value: unknown; suffix: string }[] = [];
  for (const f of Object.values(input.getFields())) {
    for (const p of placements(f.type, leaf, new Set([...seen, input.name]))) {
      out.push({ value: { [f.name]: p.value }, suffix: `.${f.name}${p.suffix}` });
    }
  }
  return out;
}

function textSlots(): TextSlot[] {
  const schema = buildAppSchema();
  const slots: TextSlot[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || isIntrospectionType(type)) continue;
    for (const field of Object.values(type.getFields())) {
      for (const arg of field.args) {
        for (const p of placements(arg.type, 'a\u0000b', new Set())) {
          slots.push({
            field: `${type.name}.${field.name}`,
            path: `${arg.name}${p.suffix}`,
            args: { [arg.name]: p.value },
          });
        }
      }
    }
  }
  return slots;
}

const slots = textSlots();

test('the schema has text slots in every area the product takes text', () => {
  const fields = new Set(slots.map((s) => s.field));
  expect(slots.length).toBeGreaterThan(100);
  for (const f of [
    'Mutation.createCustomer',
    'Mutation.updateCustomer',
    'Mutation.addCustomerNote',
    'Mutation.createStaff',
    'Mutation.saveService',
    'Mutation.createBranch',
    'Mutation.updateCompany',
    'Mutation.createCallbackRequest',
    'Mutation.markCallbackContacted',
    'Mutation.savePolicy',
    'Mutation.createUser',
    'Mutation.login',
    'Query.customers',
    'Query.node',
    'Query.nodes',
  ]) {
    expect(fields).toContain(f);
  }
});

test.each(slots.map((s) => [s.field, s.path, s] as const))(
  '%s(%s): NUL refused before the resolver',
  async (_f, path, slot) => {
    const [typeName, fieldName] = slot.field.split('.');
    const type = buildAppSchema().getType(typeName);
    if (!isObjectType(type)) throw new Error(`${typeName} is not an object type`);
    const field = type.getFields()[fieldName];
    let reached = false;
    let caught: unknown;
    try {
      await field.resolve!(
        undefined,
        slot.args,
        new Proxy(
          {},
          {
            get() {
              reached = true;
              throw new Error('resolver reached');
            },
          },
        ),
        { fieldName } as GraphQLResolveInfo,
      );
    } catch (err) {
      caught = err;
    }
    expect(reached).toBe(false);
    expect(caught).toBeInstanceOf(AppError);
    expect((caught as AppError).code).toBe('BAD_USER_INPUT');
    expect((caught as AppError).field).toBe(path.replace(/\.k$/, ''));
  },
);

describe('text rules', () => {
  test('single-line and multi-line fields', () => {
    expect(ruleFor('name')).toEqual({ multiline: false, max: 1000 });
    expect(ruleFor('notes')).toEqual({ multiline: true, max: 10_000 });
    expect(textProblem('Anna Müller 😀', ruleFor('name'))).toBeNull();
    expect(textProblem('a\nb', ruleFor('name'))).toMatch(/control/);
    expect(textProblem('a\r\n\tb', ruleFor('notes'))).toBeNull();
    expect(textProblem('a\u0000b', ruleFor('notes'))).toMatch(/NUL/);
    expect(textProblem('\ud800', ruleFor('notes'))).toMatch(/surrogate/);
    expect(textProblem('\udc00\ud800', ruleFor('notes'))).toMatch(/surrogate/);
    expect(textProblem('\ud83d\ude00', ruleFor('name'))).toBeNull();
    expect(textProblem('x'.repeat(1001), ruleFor('name'))).toMatch(/at most 1000/);
  });

  test('JSON depth is measured without parsing, strings and escapes skipped', () => {
    expect(jsonDepth('{"a":[1,{"b":"[[[["}]}')).toBe(3);
    expect(jsonDepth('"\\"[["')).toBe(0);
    expect(jsonDepth('['.repeat(1_000_000), 64)).toBe(65);
    expect(jsonProblem({ a: [{ b: 'x\ud800' }] })).toEqual({
      path: 'a.0.b',
      problem: 'holds an unpaired surrogate character',
    });
    expect(jsonProblem({ a: 'x\u0000' }, { allowNulInValues: true })).toBeNull();
  });
});

test('a value Postgres refuses that slipped past validation is BAD_USER_INPUT, not INTERNAL', () => {
  const pgError = Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), {
    code: '22021',
  });
  const wrapped = Object.assign(new Error('insert into x - invalid byte sequence'), {
    nativeError: pgError,
  });
  const error = new GraphQLError('insert into x', {
    path: ['createCustomer'],
    originalError: wrapped,
  });
  const out = formatError({ message: error.message, path: ['createCustomer'] }, error);
  expect(out).toEqual({
    message: 'A value in the request cannot be stored',
    path: ['createCustomer'],
    locations: undefined,
    extensions: { code: 'BAD_USER_INPUT' },
  });
  // Anything else from the database stays INTERNAL, with nothing of the SQL sent.
  const other = new GraphQLError('x', {
    path: ['createCustomer'],
    originalError: Object.assign(new Error('select 1'), { code: '57P01' }),
  });
  expect(formatError({ message: 'select 1' }, other).extensions).toEqual({ code: 'INTERNAL' });
});
