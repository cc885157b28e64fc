import { allow, mergeRules, read, write } from '../../src/graphql/shield-rules';
import { PERMISSIONS } from '../../src/resolvers/permissions';
import { customerRules } from '../../src/resolvers/customer.rules';

/** The per-feature rule fragments merge into one map; a field may have a rule in one only. */
describe('mergeRules', () => {
  it('merges fragments type by type', () => {
    const merged = mergeRules(
      { Query: { a: read('customers') }, A: { id: allow } },
      { Query: { b: write('customers') }, B: { id: allow } },
    );
    expect(Object.keys(merged.Query as object)).toEqual(['a', 'b']);
    expect(Object.keys(merged).sort()).toEqual(['A', 'B', 'Query']);
  });

  it('refuses a field named by two fragments', () => {
    expect(() =>
      mergeRules({ Query: { a: read('customers') } }, { Query: { a: write('customers') } }),
    ).toThrow('Query.a has a rule in two fragments');
  });

  it('the shield map holds each fragment, without changing the fragment', () => {
    expect((PERMISSIONS.Query as Record<string, unknown>).customers).toBe(
      (customerRules.Query as Record<string, unknown>).customers,
    );
    expect(PERMISSIONS.Query).not.toBe(customerRules.Query);
  });
});
