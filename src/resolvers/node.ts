import { Arg, Ctx, Extensions, Field, ID, InterfaceType, Query, Resolver } from 'type-graphql';
import { cost, nodesCost } from '../graphql/limits/cost-model';
import type { GraphQLContext } from '../graphql/context';
import { fromGlobalId, type DecodedGlobalId } from '../graphql/global-id';
import { loaderFor } from '../graphql/loaders';
import { canAccessStaffOwned } from '../auth/ownership';
import { canRead, type Resource } from '../auth/access';
import type { Actor } from '../context/actor';
import { AppError } from '../errors/app-error';
import * as models from '../models';
import type { TenantModel } from '../models';

/**
 * The Relay Node interface. Every tenant-owned type implements it with an opaque global id; the
 * `id` field of each implementing type is resolved from the row in graphql/schema.ts.
 */
@InterfaceType({
  description: 'An object with a globally unique, opaque id.',
  resolveType: (value: object) => nodeTypeOf(value),
})
export abstract class Node {
  @Field(() => ID, {
    description: 'Opaque global id; pass it to `node` to fetch the object again.',
  })
  id!: string;
}

interface NodeKind {
  model: typeof TenantModel;
  resource: Resource;
  /** Row-level visibility on top of the resource permission (src/auth/ownership.ts). */
  visible?: (actor: Actor, row: never) => boolean;
}

const ownStaffRow = (actor: Actor, row: { staffId: string | null }) =>
  canAccessStaffOwned(actor, row, 'read');

/** GraphQL type name -> model and the resource whose read permission guards it. */
export const NODE_TYPES: Record<string, NodeKind> = {
  User: { model: models.User, resource: 'users' },
  Branch: { model: models.Branch, resource: 'catalog' },
  Staff: { model: models.Staff, resource: 'catalog' },
  ServiceCategory: { model: models.ServiceCategory, resource: 'catalog' },
  Service: { model: models.Service, resource: 'catalog' },
  WorkingHour: { model: models.WorkingHour, resource: 'catalog', visible: ownStaffRow },
  Customer: { model: models.Customer, resource: 'customers' },
  CustomerNote: { model: models.CustomerNote, resource: 'customerNotes' },
  Appointment: { model: models.Appointment, resource: 'appointments', visible: ownStaffRow },
  Call: { model: models.Call, resource: 'calls' },
  PhoneNumber: { model: models.PhoneNumber, resource: 'phoneNumbers' },
  CallbackRequest: { model: models.CallbackRequest, resource: 'callbacks' },
  PolicyConfiguration: { model: models.PolicyConfiguration, resource: 'policies' },
  ActivityLog: { model: models.ActivityLog, resource: 'activity' },
  ApiToken: { model: models.ApiToken, resource: 'apiTokens' },
  ProviderCredential: { model: models.ProviderCredential, resource: 'webhooks' },
  RetellAgent: { model: models.RetellAgent, resource: 'phoneNumbers' },
};

const TYPE_BY_MODEL = new Map<unknown, string>(
  Object.entries(NODE_TYPES).map(([name, kind]) => [kind.model, name]),
);

export function nodeTypeOf(value: object): string {
  const name = TYPE_BY_MODEL.get(value.constructor);
  if (!name) throw new AppError('INTERNAL', 'object has no Node type');
  return name;
}

@Resolver()
export class NodeResolver {
  @Query(() => Node, { nullable: true, description: 'Fetches any object by its global id.' })
  async node(
    @Arg('id', () => ID) id: string,
    @Ctx() { ctx }: GraphQLContext,
  ): Promise<TenantModel | null> {
    return loadNode(ctx, id, 'id');
  }

  @Query(() => [Node], {
    nullable: 'items',
    description: 'Fetches up to 100 objects by global id, in order; null where not found.',
  })
  @Extensions(cost(nodesCost))
  async nodes(
    @Arg('ids', () => [ID]) ids: string[],
    @Ctx() { ctx }: GraphQLContext,
  ): Promise<Array<TenantModel | null>> {
    if (ids.length > 100) {
      throw new AppError('BAD_USER_INPUT', 'ids may hold at most 100 ids', { field: 'ids' });
    }
    // Every id is checked before the first one is loaded: a bad one costs no SQL.
    const decoded = ids.map((id, i) => decodeNodeId(id, `ids.${i}`));
    return Promise.all(decoded.map((d, i) => loadNode(ctx, d, `ids.${i}`)));
  }
}

function decodeNodeId(globalId: string, field: string): DecodedGlobalId {
  const decoded = fromGlobalId(globalId, field);
  if (!NODE_TYPES[decoded.type]) {
    throw new AppError('BAD_USER_INPUT', `${field} is not a valid id`, { field });
  }
  return decoded;
}

async function loadNode(
  ctx: GraphQLContext['ctx'],
  globalId: string | DecodedGlobalId,
  field: string,
): Promise<TenantModel | null> {
  const decoded = typeof globalId === 'string' ? decodeNodeId(globalId, field) : globalId;
  const kind = NODE_TYPES[decoded.type];
  if (decoded.companyId !== ctx.companyId) {
    ctx.deps.metrics.crossTenantAttempts.inc({ path: 'graphql_node' });
    return null;
  }
  if (!canRead(ctx.actor, ctx.companyId, kind.resource)) {
    ctx.deps.metrics.authorizationDenials.inc({ rule: `node:${decoded.type}` });
    throw new AppError('FORBIDDEN', `Not allowed to read ${decoded.type}`, { field });
  }
  const row = (await loaderFor(ctx, kind.model as never).load(decoded.id)) as TenantModel | null;
  if (row && kind.visible && !kind.visible(ctx.actor, row as never)) {
    // Not the actor's own: answered like an id that names nothing, so existence is not revealed.
    ctx.deps.metrics.authorizationDenials.inc({ rule: `own:${decoded.type}:read` });
    return null;
  }
  return row;
}
