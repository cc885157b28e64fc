import 'reflect-metadata';
import { isIntrospectionType, isObjectType } from 'graphql';
import { allow } from 'graphql-shield';
import { buildAppSchema } from '../../src/graphql/schema';
import { PERMISSIONS } from '../../src/resolvers/permissions';

/**
 * Invariant 7: every field of the built schema has an explicit graphql-shield rule (the fallback
 * is deny). A new field without a rule fails here, without anyone editing this test.
 */
describe('permission rules cover the schema', () => {
  const schema = buildAppSchema();
  const objectTypes = Object.values(schema.getTypeMap()).filter(
    (t) => isObjectType(t) && !isIntrospectionType(t),
  );
  const rules = PERMISSIONS as Record<string, Record<string, unknown>>;

  test.each(objectTypes.map((t) => [t.name, t] as const))(
    '%s: every field has a rule',
    (name, type) => {
      const typeRules = rules[name];
      expect(typeRules).toBeDefined();
      expect(typeof typeRules).toBe('object');
      const fields = Object.keys((type as { getFields(): Record<string, unknown> }).getFields());
      const missing = fields.filter((f) => typeRules?.[f] === undefined);
      expect(missing).toEqual([]);
      // No wildcard: a type-wide rule would quietly cover fields added later.
      expect(typeRules['*']).toBeUndefined();
    },
  );

  test('the rule tree names no type or field that the schema lacks', () => {
    for (const [typeName, fields] of Object.entries(rules)) {
      const type = schema.getType(typeName);
      expect(type && isObjectType(type)).toBe(true);
      const schemaFields = (type as { getFields(): Record<string, unknown> }).getFields();
      for (const field of Object.keys(fields))
        expect([typeName, field in schemaFields]).toEqual([typeName, true]);
    }
  });

  test('only sign-in, token refresh and accepting an invitation are open to anonymous callers', () => {
    const open = [
      ...Object.entries(rules.Query)
        .filter(([, r]) => r === allow)
        .map(([f]) => `Query.${f}`),
      ...Object.entries(rules.Mutation)
        .filter(([, r]) => r === allow)
        .map(([f]) => `Mutation.${f}`),
    ];
    // acceptInvitation is authorised by its single-use invitation token.
    expect(open.sort()).toEqual([
      'Mutation.acceptInvitation',
      'Mutation.login',
      'Mutation.refreshToken',
    ]);
  });
});
