import { GraphQLError, type GraphQLSchema } from 'graphql';
import { allow, chain, rule, shield } from 'graphql-shield';
import type { IRuleTypeMap } from 'graphql-shield/typings/types';
import { applyMiddleware } from 'graphql-middleware';
import {
  canRead,
  canWrite,
  hasRole,
  isSignedIn,
  isSuperAdmin,
  type Resource,
} from '../auth/access';
import { AppError } from '../errors/app-error';
import type { GraphQLContext } from './context';

type Check = (ctx: GraphQLContext['ctx']) => boolean;

type ShieldRule = ReturnType<ReturnType<typeof rule>>;
/** What a rule function decides: true, or the error to answer with. */
type Decision = true | AppError;
type RuleFunction = (parent: unknown, args: unknown, context: GraphQLContext) => Decision;

/**
 * The rules whose decision depends on the request alone (actor and company), with their synchronous
 * function: `applyPermissions` decides them without shield's per-field promises (see there).
 */
const CONTEXTUAL_RULES = new WeakMap<object, RuleFunction>();

function named(name: string, check: Check) {
  const decide: RuleFunction = (_parent, _args, { ctx }) => {
    if (!isSignedIn(ctx.actor)) {
      return new AppError('UNAUTHENTICATED', 'Sign in first: send Authorization: Bearer <token>');
    }
    if (check(ctx)) return true;
    ctx.deps.metrics.authorizationDenials.inc({ rule: name });
    return new AppError('FORBIDDEN', 'Not allowed');
  };
  const r = rule(name, { cache: 'contextual' })(decide);
  CONTEXTUAL_RULES.set(r, decide);
  return r;
}

/** Signed in (user, API token or super admin), in a company or not. */
export const signedIn = named('signedIn', () => true);
/** A company user signed in with a password session (not an API token, not a platform admin). */
export const companyUser = named('companyUser', (ctx) => ctx.actor.kind === 'user');
/** A super admin, with or without a chosen company. */
export const superAdmin = named('superAdmin', (ctx) => isSuperAdmin(ctx.actor));
/** A company admin, or a super admin with or without a chosen company (the webhook inbox). */
export const adminOrSuperAdmin = named(
  'adminOrSuperAdmin',
  (ctx) => isSuperAdmin(ctx.actor) || hasRole(ctx.actor, ctx.companyId, 'admin'),
);

const readRules = new Map<Resource, ReturnType<typeof named>>();
const writeRules = new Map<Resource, ReturnType<typeof named>>();

/** May read the resource in the current company (by role or API token scope). */
export function read(resource: Resource) {
  let r = readRules.get(resource);
  if (!r) {
    r = named(`read:${resource}`, (ctx) => canRead(ctx.actor, ctx.companyId, resource));
    readRules.set(resource, r);
  }
  return r;
}

/** May change the resource in the current company. */
export function write(resource: Resource) {
  let r = writeRules.get(resource);
  if (!r) {
    r = named(`write:${resource}`, (ctx) => canWrite(ctx.actor, ctx.companyId, resource));
    writeRules.set(resource, r);
  }
  return r;
}

/**
 * Write access to `resource` as well, when the argument at `path` (e.g. ['input', 'customer']) is
 * given: for operations whose effect reaches a second resource only with some inputs. FORBIDDEN
 * names that argument as the field.
 */
export function writeWhenArg(resource: Resource, path: readonly string[]) {
  const field = path.join('.');
  const name = `write:${resource}:when:${field}`;
  return rule(name, { cache: 'strict' })((_parent, args, { ctx }: GraphQLContext) => {
    if (!isSignedIn(ctx.actor)) {
      return new AppError('UNAUTHENTICATED', 'Sign in first: send Authorization: Bearer <token>');
    }
    let value: unknown = args;
    for (const key of path) value = (value as Record<string, unknown> | null | undefined)?.[key];
    if (value === undefined || value === null) return true;
    if (canWrite(ctx.actor, ctx.companyId, resource)) return true;
    ctx.deps.metrics.authorizationDenials.inc({ rule: name });
    return new AppError('FORBIDDEN', `Not allowed: ${field} needs write access to ${resource}`, {
      field,
    });
  });
}

export { allow, chain };

/** Every field of the listed names gets `allow`, written out so each one is a deliberate choice. */
export function allowFields(fields: readonly string[]): Record<string, typeof allow> {
  return Object.fromEntries(fields.map((f) => [f, allow]));
}

/** The rules of a `<Name>Connection` and `<Name>Edge` pair; access is decided by the list field. */
export function connectionRules(name: string): IRuleTypeMap {
  return {
    [`${name}Connection`]: allowFields(['edges', 'nodes', 'pageInfo', 'totalCount']),
    [`${name}Edge`]: allowFields(['node', 'cursor']),
  };
}

/**
 * Merges per-feature rule fragments into one shield map. Each fragment names the fields its
 * feature resolves; a field named by two fragments is a mistake (which rule would win?), so it
 * throws at start-up instead of one silently replacing the other. Fresh objects per type: the
 * fragments are never mutated.
 */
export function mergeRules(...fragments: IRuleTypeMap[]): IRuleTypeMap {
  const merged: Record<string, Record<string, unknown>> = {};
  for (const fragment of fragments) {
    for (const [typeName, fields] of Object.entries(fragment)) {
      const target = (merged[typeName] ??= {});
      for (const [field, fieldRule] of Object.entries(fields as Record<string, unknown>)) {
        if (field in target) throw new Error(`${typeName}.${field} has a rule in two fragments`);
        target[field] = fieldRule;
      }
    }
  }
  return merged as IRuleTypeMap;
}

const FORBIDDEN = new GraphQLError('Not allowed', { extensions: { code: 'FORBIDDEN' } });

type FieldMiddleware = (
  resolve: (...args: unknown[]) => unknown,
  parent: unknown,
  args: unknown,
  context: unknown,
  info: unknown,
) => unknown;

interface ShieldState {
  _shield?: { cache: Record<string, unknown> };
}

/**
 * The guard of a field whose rule depends on the request alone (`read`, `write`, `signedIn`, ...),
 * decided without a promise. It keeps shield's semantics exactly: the decision is taken once per
 * request and kept in shield's own contextual cache (`context._shield.cache[rule name]`, shared
 * with shield's middleware on other fields), true resolves the field, an error is the field's
 * answer, anything else is the fallback error, and a rule that throws denies. A field whose
 * resolver returns a value then stays synchronous, which spares graphql-js a promise per object.
 */
function contextualGuard(
  ruleObject: ShieldRule,
  decide: RuleFunction,
  fallback: FieldMiddleware,
): FieldMiddleware {
  const name = ruleObject.name;
  return (resolve, parent, args, context, info) => {
    const state = context as ShieldState;
    const cache = (state._shield ??= { cache: {} }).cache;
    let decision = cache[name];
    if (!decision) {
      try {
        decision = decide(parent, args, context as GraphQLContext);
      } catch {
        return FORBIDDEN;
      }
      cache[name] = decision;
    }
    if (decision === true) return resolve(parent, args, context, info);
    if (decision instanceof Error) return decision;
    // A decision shield's own middleware cached as a promise: let shield finish it.
    if (decision instanceof Promise) return fallback(resolve, parent, args, context, info);
    return FORBIDDEN;
  };
}

/**
 * Applies graphql-shield with deny as the fallback: a field without an explicit rule can never be
 * resolved. Shield wraps every field in an async middleware, which doubles the promises of every
 * default field resolver; fields whose rule is `allow` are left unwrapped, since allowing is what
 * they would do anyway, and fields whose rule depends on the request alone get a synchronous guard
 * with the same decision (`contextualGuard`). Every other field, including any without a rule,
 * keeps shield's guard.
 */
export function applyPermissions(schema: GraphQLSchema, rules: IRuleTypeMap): GraphQLSchema {
  const generator = shield(rules, {
    fallbackRule: rule('deny', { cache: 'no_cache' })(() => false),
    fallbackError: FORBIDDEN,
    allowExternalErrors: true,
    debug: false,
  });
  const generated = generator.generate(schema) as Record<string, Record<string, unknown>>;
  const filtered: Record<string, Record<string, unknown>> = {};
  for (const [typeName, fields] of Object.entries(generated)) {
    const typeRules = (rules[typeName] ?? {}) as Record<string, unknown>;
    const kept: Record<string, unknown> = {};
    for (const [field, middleware] of Object.entries(fields)) {
      const fieldRule = typeRules[field];
      if (fieldRule === allow) continue;
      const decide =
        typeName !== 'Subscription' && fieldRule && typeof fieldRule === 'object'
          ? CONTEXTUAL_RULES.get(fieldRule)
          : undefined;
      kept[field] =
        decide && typeof middleware === 'function'
          ? contextualGuard(fieldRule as ShieldRule, decide, middleware as FieldMiddleware)
          : middleware;
    }
    if (Object.keys(kept).length > 0) filtered[typeName] = kept;
  }
  const guarded = applyMiddleware(schema, filtered as never);
  guardSubscriptions(guarded, generated.Subscription ?? {});
  return guarded;
}

/**
 * graphql-middleware wraps a subscription field's `resolve` (run per event) but not its
 * `subscribe`, so the rule would only be met at the first event. The same rule also guards
 * `subscribe`: a subscriber without the permission is refused when the subscription starts.
 */
function guardSubscriptions(schema: GraphQLSchema, rules: Record<string, unknown>): void {
  const fields = schema.getSubscriptionType()?.getFields() ?? {};
  for (const [name, field] of Object.entries(fields)) {
    const subscribe = field.subscribe;
    const middleware = (rules[name] ?? null) as FieldMiddleware | null;
    if (!subscribe || typeof middleware !== 'function') continue;
    field.subscribe = (parent, args, context, info) =>
      middleware(
        (p, a, c, i) => subscribe(p, a as never, c, i as never),
        parent,
        args,
        context,
        info,
      );
  }
}
