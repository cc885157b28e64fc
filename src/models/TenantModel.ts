import { QueryBuilder, type Model, type ModelOptions, type QueryContext } from 'objection';
import { CrossTenantError, TenantContextMissingError } from '../errors/app-error';
import { tenantOf } from '../tenancy/tenant-binding';
import { isTenantFilterEnabled } from '../tenancy/switches';
import { BaseModel } from './BaseModel';

/**
 * The query builder of every tenant-owned model. Each query it builds reads the tenant from the
 * transaction it runs in (see tenant-binding.ts) and adds `company_id = <tenant>` to the WHERE of
 * selects, updates and deletes. A query outside a tenant transaction throws before any SQL is sent:
 * no context means an error, never an unfiltered query. Postgres enforces the same boundary a
 * second time with row level security.
 */
export class TenantQueryBuilder<M extends Model, R = M[]> extends QueryBuilder<M, R> {
  constructor(modelClass: typeof Model) {
    // objection's QueryBuilder constructor takes the model class; its typings hide it.
    // eslint-disable-next-line @typescript-eslint/ban-ts-comment
    // @ts-ignore
    super(modelClass);
    this.onBuild((builder) => applyTenantScope(builder as unknown as AnyBuilder));
  }
}

type AnyBuilder = QueryBuilder<Model, unknown> & { unsafeKnex(): unknown; isPartial(): boolean };

function applyTenantScope(builder: AnyBuilder): void {
  // A partial builder is a fragment of its parent query (the callback of `where(q => ...)`); the
  // parent carries the filter, and adding it inside the group would change OR logic there.
  if (builder.isPartial()) return;
  const modelClass = builder.modelClass();
  const tenant = tenantOf(builder.unsafeKnex());
  if (!tenant) throw new TenantContextMissingError(modelClass.tableName);
  if (!isTenantFilterEnabled()) return;
  if (builder.isInsert()) return; // inserts are stamped in $beforeInsert
  builder.where(`${builder.tableRefFor(modelClass)}.company_id`, tenant.companyId);
}

export class TenantModel extends BaseModel {
  id!: string;
  companyId!: string;
  createdAt!: Date;
  updatedAt!: Date;

  static override get QueryBuilder() {
    return TenantQueryBuilder as unknown as typeof QueryBuilder;
  }

  /** Stamps company_id from the transaction's tenant; input naming another company is refused. */
  override $beforeInsert(queryContext: QueryContext): void {
    const tenant = tenantOf(queryContext.transaction);
    const table = (this.constructor as typeof TenantModel).tableName;
    if (!tenant) throw new TenantContextMissingError(table);
    if (this.companyId !== undefined && this.companyId !== tenant.companyId) {
      throw new CrossTenantError();
    }
    this.companyId = tenant.companyId;
  }

  /** company_id never changes; an update naming another company is refused. */
  override $beforeUpdate(_opt: ModelOptions, queryContext: QueryContext): void {
    const tenant = tenantOf(queryContext.transaction);
    const table = (this.constructor as typeof TenantModel).tableName;
    if (!tenant) throw new TenantContextMissingError(table);
    if (this.companyId !== undefined && this.companyId !== tenant.companyId) {
      throw new CrossTenantError();
    }
    delete (this as Partial<TenantModel>).companyId;
  }
}
