import {
  getNamedType,
  isInterfaceType,
  isObjectType,
  isUnionType,
  type GraphQLObjectType,
  type GraphQLSchema,
} from 'graphql';
import { rule } from 'graphql-shield';
import type { IOptions, IRuleTypeMap, ShieldRule } from 'graphql-shield/typings/types';
import { canRead } from '../../src/auth/access';
import type { Actor } from '../../src/context/actor';
import { createMetrics } from '../../src/observability/metrics';
import { NODE_TYPES } from '../../src/resolvers/node';

/**
 * Which fields an actor can reach from the root types, by evaluating the shield rule of every field
 * (deny where none) with a context for that actor, and following each allowed field to its type.
 *
 * Two edges are decided by resolvers rather than by the rule on the field, and are modelled here
 * the way those resolvers decide them (the HTTP cases of the test prove both):
 * - `node` / `nodes` reach a Node type only with that type's read permission (NODE_TYPES);
 * - `Viewer.user` is the signed-in user, so it is null for API tokens and super admins.
 *
 * Arguments are not known statically: every rule is evaluated with no arguments, so a rule that
 * asks more for some inputs (writeWhenArg) counts with its least demand; the test pins those
 * cases separately.
 */

const deny = rule('deny', { cache: 'no_cache' })(() => false);
const OPTIONS: IOptions = {
  debug: true,
  allowExternalErrors: true,
  fallbackRule: deny,
  hashFunction: ({ args }) => JSON.stringify(args ?? {}),
};

/** Type name -> reachable field names. */
export type Reach = Record<string, string[]>;

export async function reachableFields(
  schema: GraphQLSchema,
  rules: IRuleTypeMap,
  actor: Actor,
  companyId: string,
): Promise<Reach> {
  const metrics = createMetrics();
  const context = () => ({
    ctx: { actor, companyId, deps: { metrics } },
    _shield: { cache: {} },
  });
  const reach: Reach = {};
  const seen = new Set<string>();
  const queue: GraphQLObjectType[] = [];
  const visit = (type: GraphQLObjectType) => {
    if (seen.has(type.name)) return;
    seen.add(type.name);
    queue.push(type);
  };
  for (const root of [schema.getQueryType(), schema.getMutationType()]) if (root) visit(root);

  while (queue.length > 0) {
    const type = queue.shift()!;
    const typeRules = (rules[type.name] ?? {}) as Record<string, ShieldRule>;
    for (const [name, field] of Object.entries(type.getFields())) {
      const r = typeRules[name] ?? deny;
      const result = await r.resolve({}, {}, context() as never, {} as never, OPTIONS);
      if (result !== true) continue;
      (reach[type.name] ??= []).push(name);
      if (type.name === 'Viewer' && name === 'user' && actor.kind !== 'user') continue;
      const target = getNamedType(field.type);
      if (isObjectType(target)) visit(target);
      else if (isInterfaceType(target)) {
        for (const impl of schema.getImplementations(target).objects) {
          const kind = NODE_TYPES[impl.name];
          if (target.name === 'Node' && (!kind || !canRead(actor, companyId, kind.resource))) {
            continue;
          }
          visit(impl);
        }
      } else if (isUnionType(target)) target.getTypes().forEach(visit);
    }
  }
  for (const fields of Object.values(reach)) fields.sort();
  return reach;
}

/** Connection, edge and page-info types are plumbing: reachable exactly when their nodes are. */
export const isPlumbing = (typeName: string): boolean =>
  /(Connection|Edge|PageInfo)$/.test(typeName);

/** `reach` as "Type: field field ..." lines, plumbing left out; minus `base` when given. */
export function describeReach(reach: Reach, base: Reach = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const typeName of Object.keys(reach).sort()) {
    if (isPlumbing(typeName)) continue;
    const known = new Set(base[typeName] ?? []);
    const extra = reach[typeName].filter((f) => !known.has(f));
    if (extra.length > 0) out[typeName] = extra.join(' ');
  }
  return out;
}
