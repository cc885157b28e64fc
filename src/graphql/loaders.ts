import DataLoader from 'dataloader';
import type { RequestContext } from '../context/request-context';
import type { TenantModel } from '../models';

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

/** Loads a related row by id, or null when the id is null. */
export async function loadRelated<M extends TenantModel>(
  ctx: RequestContext,
  model: TenantModelClass<M>,
  id: string | null | undefined,
): Promise<M | null> {
  if (!id) return null;
  return loaderFor(ctx, model).load(id);
}
