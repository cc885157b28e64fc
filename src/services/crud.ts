import type { RequestContext } from '../context/request-context';
import { isDbError, translateDbError } from '../db/errors';
import { AppError } from '../errors/app-error';
import type { TenantModel } from '../models';
import { crudAction, type CrudSubject } from '../domain/audit';

type ModelClass<M extends TenantModel> = typeof TenantModel & (new () => M);

export interface WriteOptions {
  /** Name used in messages and the audit log, e.g. 'Branch'. */
  what: CrudSubject;
  /** Constraint name -> input field, for errors on unique or foreign keys. */
  fields?: Record<string, string>;
}

/** A row of the caller's company by id, or NOT_FOUND naming the field. */
export async function getById<M extends TenantModel>(
  ctx: RequestContext,
  model: ModelClass<M>,
  id: string,
  what: string,
  field = 'id',
): Promise<M> {
  const trx = await ctx.trx();
  const row = (await model.query(trx).findById(id)) as M | undefined;
  if (!row) throw new AppError('NOT_FOUND', `${what} not found`, { field });
  return row;
}

/** Inserts a row in a savepoint, audited; database constraint errors become client errors. */
export async function createRow<M extends TenantModel>(
  ctx: RequestContext,
  model: ModelClass<M>,
  data: Partial<M>,
  options: WriteOptions,
): Promise<M> {
  return ctx.unitOfWork(async (trx) => {
    let row: M;
    try {
      row = (await model
        .query(trx)
        .insert(data as never)
        .returning('*')) as unknown as M;
    } catch (err) {
      translateDbError(err, options.fields);
    }
    await ctx.audit({
      action: crudAction(options.what, 'create'),
      subjectType: options.what,
      subjectId: row.id,
    });
    return row;
  });
}

/** Patches a row of the caller's company in a savepoint, audited with the changed fields. */
export async function updateRow<M extends TenantModel>(
  ctx: RequestContext,
  model: ModelClass<M>,
  id: string,
  patch: Partial<M>,
  options: WriteOptions,
): Promise<M> {
  const changes = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
  return ctx.unitOfWork(async (trx) => {
    let row: M | undefined;
    try {
      const rows = (await model
        .query(trx)
        .patch(changes as never)
        .where(`${model.tableName}.id`, id)
        .returning('*')) as unknown as M[];
      row = rows[0];
    } catch (err) {
      translateDbError(err, options.fields);
    }
    if (!row) throw new AppError('NOT_FOUND', `${options.what} not found`, { field: 'id' });
    await ctx.audit({
      action: crudAction(options.what, 'update'),
      subjectType: options.what,
      subjectId: id,
      details: { fields: Object.keys(changes) },
    });
    return row;
  });
}

/** Deletes a row of the caller's company; a row still referenced elsewhere is a CONFLICT. */
export async function deleteRow<M extends TenantModel>(
  ctx: RequestContext,
  model: ModelClass<M>,
  id: string,
  options: WriteOptions,
): Promise<boolean> {
  return ctx.unitOfWork(async (trx) => {
    let n: number;
    try {
      n = await model.query(trx).deleteById(id);
    } catch (err) {
      if (isDbError(err, '23503')) {
        throw new AppError('CONFLICT', `${options.what} is still in use; archive it instead`, {
          field: 'id',
        });
      }
      translateDbError(err, options.fields);
    }
    if (n === 0) throw new AppError('NOT_FOUND', `${options.what} not found`, { field: 'id' });
    await ctx.audit({
      action: crudAction(options.what, 'delete'),
      subjectType: options.what,
      subjectId: id,
    });
    return true;
  });
}
