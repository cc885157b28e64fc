import DataLoader from 'dataloader';
import type { RequestContext } from '../context/request-context';
import {
  ApiToken,
  Appointment,
  Branch,
  Call,
  Customer,
  PhoneNumber,
  Service,
  ServiceCategory,
  Staff,
  User,
  type TenantModel,
} from '../models';

type TenantModelClass<M extends TenantModel> = { tableName: string } & (new () => M) & {
    query: typeof TenantModel.query;
  };

/**
 * A per-request DataLoader for rows of one model by id: every relation in a page (customer, staff,
 * service of 100 appointments) costs one `where id in (...)` statement, not one per row. It reads
 * through the request's tenant transaction, so it is tenant-filtered like every other query.
 */
export function loaderFor<M extends TenantModel>(
  ctx: RequestContext,
  model: TenantModelClass<M>,
): DataLoader<string, M | null> {
  const key = `byId:${model.tableName}`;
  let loader = ctx.cache.get(key) as DataLoader<string, M | null> | undefined;
  if (!loader) {
    loader = new DataLoader<string, M | null>(
      async (ids) => {
        const trx = await ctx.trx();
        const rows = (await model.query(trx).whereIn('id', ids as string[])) as unknown as M[];
        const byId = new Map(rows.map((r) => [r.id, r]));
        return ids.map((id) => byId.get(id) ?? null);
      },
      { maxBatchSize: 500 },
    );
    ctx.cache.set(key, loader);
  }
  return loader;
}

/** The models a field resolver may load by id, by GraphQL type name (resolvers import no models). */
const RELATED = {
  ApiToken,
  Appointment,
  Branch,
  Call,
  Customer,
  PhoneNumber,
  Service,
  ServiceCategory,
  Staff,
  User,
} as const;

export type RelatedModel = keyof typeof RELATED;

/** Loads a related row by id, or null when the id is null. */
export async function loadRelated<N extends RelatedModel>(
  ctx: RequestContext,
  model: N,
  id: string | null | undefined,
): Promise<InstanceType<(typeof RELATED)[N]> | null> {
  if (!id) return null;
  return loaderFor(ctx, RELATED[model] as unknown as TenantModelClass<TenantModel>).load(
    id,
  ) as Promise<InstanceType<(typeof RELATED)[N]> | null>;
}

/** Loads several rows of one model by id (one statement); each entry a row, null or an Error. */
export function loadRelatedMany<N extends RelatedModel>(
  ctx: RequestContext,
  model: N,
  ids: readonly string[],
): Promise<Array<InstanceType<(typeof RELATED)[N]> | null | Error>> {
  return loaderFor(ctx, RELATED[model] as unknown as TenantModelClass<TenantModel>).loadMany(
    ids,
  ) as Promise<Array<InstanceType<(typeof RELATED)[N]> | null | Error>>;
}
