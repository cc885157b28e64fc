import type { RequestContext } from '../../context/request-context';
import { translateDbError } from '../../db/errors';
import { AppError } from '../../errors/app-error';
import { Service, ServiceCategory, StaffService } from '../../models';
import { createRow, updateRow } from '../../services/crud';
import { companySettings } from '../companies/company-settings';
import { likePattern, optionalText, requiredText } from '../text';

/**
 * The catalog: services, their categories and which staff perform them. The only code that writes
 * `services`, `service_categories` and `staff_services`. Ids are local (already translated).
 */

/** A service callers can book: not archived, and performed by at least one active staff member. */
export interface BookableService {
  id: string;
  name: string;
  durationMinutes: number;
  priceCents: number;
  currency: string;
}

/** The bookable services by name; one statement per context (cached on it). */
export async function bookableServices(ctx: RequestContext): Promise<BookableService[]> {
  const cached = ctx.cache.get('catalog.bookableServices') as BookableService[] | undefined;
  if (cached) return cached;
  const trx = await ctx.trx();
  const rows = await trx('services as s')
    .whereNull('s.archived_at')
    .whereExists(
      trx('staff_services as ss')
        .join('staff as st', function () {
          this.on('st.company_id', 'ss.company_id').andOn('st.id', 'ss.staff_id');
        })
        .whereRaw('ss.company_id = s.company_id and ss.service_id = s.id')
        .whereNull('st.archived_at'),
    )
    .orderBy('s.name')
    .select<
      {
        id: string;
        name: string;
        duration_minutes: number;
        price_cents: number;
        currency: string;
      }[]
    >('s.id', 's.name', 's.duration_minutes', 's.price_cents', 's.currency');
  const out = rows.map((r) => ({
    id: r.id,
    name: r.name,
    durationMinutes: r.duration_minutes,
    priceCents: r.price_cents,
    currency: r.currency,
  }));
  ctx.cache.set('catalog.bookableServices', out);
  return out;
}

export interface ServiceSearch {
  search?: string | null;
  includeArchived?: boolean;
  categoryId?: string | null;
  branchId?: string | null;
}

export interface SaveServiceInput {
  id?: string | null;
  name?: string | null;
  description?: string | null;
  durationMinutes?: number | null;
  bufferMinutes?: number | null;
  priceCents?: number | null;
  categoryId?: string | null;
  branchId?: string | null;
  /** Replaces the staff who perform the service when given. */
  staffIds?: string[] | null;
}

export interface SaveServiceCategoryInput {
  id?: string | null;
  name?: string | null;
  description?: string | null;
  sortOrder?: number | null;
}

function intIn(value: number | null | undefined, field: string, min: number, max: number) {
  if (value == null) return undefined;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new AppError('BAD_USER_INPUT', `${field} must be from ${min} to ${max}`, { field });
  }
  return value;
}

const SERVICE_FIELDS = {
  services_company_id_name_unique: 'input.name',
  services_category_id_fkey: 'input.categoryId',
  services_branch_id_fkey: 'input.branchId',
  staff_services_staff_id_fkey: 'input.staffIds',
};

/** The services query for a search, for paging by name. */
export async function serviceQuery(ctx: RequestContext, filter: ServiceSearch | null) {
  const q = Service.query(await ctx.trx());
  if (!filter?.includeArchived) q.whereNull('archived_at');
  if (filter?.search) q.whereILike('name', `%${likePattern(filter.search)}%`);
  if (filter?.categoryId) q.where('category_id', filter.categoryId);
  if (filter?.branchId) q.where('branch_id', filter.branchId);
  return { query: q };
}

/** Creates a service (in the company's currency), or updates it when `id` is given. */
export async function saveService(ctx: RequestContext, input: SaveServiceInput) {
  const data = {
    name: input.name == null ? undefined : requiredText(input.name, 'input.name'),
    description: optionalText(input.description, 'input.description'),
    durationMinutes: intIn(input.durationMinutes, 'input.durationMinutes', 5, 1440),
    bufferMinutes: intIn(input.bufferMinutes, 'input.bufferMinutes', 0, 240),
    priceCents: intIn(input.priceCents, 'input.priceCents', 0, 100_000_000),
    categoryId: input.categoryId,
    branchId: input.branchId,
  };
  const staffIds = input.staffIds ?? undefined;
  return ctx.unitOfWork(async (trx) => {
    let service: Service;
    if (input.id) {
      service = await updateRow(ctx, Service, input.id, data, {
        what: 'Service',
        fields: SERVICE_FIELDS,
      });
    } else {
      if (data.name === undefined || data.durationMinutes === undefined) {
        throw new AppError('BAD_USER_INPUT', 'input.name and input.durationMinutes are required', {
          field: data.name === undefined ? 'input.name' : 'input.durationMinutes',
        });
      }
      const company = await companySettings(ctx, trx);
      service = await createRow(
        ctx,
        Service,
        { ...data, currency: company.currency } as Partial<Service>,
        { what: 'Service', fields: SERVICE_FIELDS },
      );
    }
    if (staffIds) {
      await StaffService.query(trx).delete().where('service_id', service.id);
      if (staffIds.length) {
        await ctx.unitOfWork(async (inner) => {
          try {
            await StaffService.query(inner).insert(
              [...new Set(staffIds)].map((staffId) => ({
                staffId,
                serviceId: service.id,
              })) as never,
            );
          } catch (err) {
            translateDbError(err, SERVICE_FIELDS);
          }
        });
      }
    }
    return service;
  });
}

export async function archiveService(ctx: RequestContext, id: string) {
  return updateRow(ctx, Service, id, { archivedAt: new Date() }, { what: 'Service' });
}

/** Categories not archived, for paging by name. */
export async function serviceCategoryQuery(ctx: RequestContext) {
  return { query: ServiceCategory.query(await ctx.trx()).whereNull('archived_at') };
}

/** Creates a category, or updates it when `id` is given. */
export async function saveServiceCategory(ctx: RequestContext, input: SaveServiceCategoryInput) {
  const data = {
    name: input.name == null ? undefined : requiredText(input.name, 'input.name'),
    description: optionalText(input.description, 'input.description'),
    sortOrder: intIn(input.sortOrder, 'input.sortOrder', -10000, 10000),
  };
  const fields = { service_categories_company_id_name_unique: 'input.name' };
  if (input.id) {
    return updateRow(ctx, ServiceCategory, input.id, data, { what: 'ServiceCategory', fields });
  }
  if (data.name === undefined) {
    throw new AppError('BAD_USER_INPUT', 'input.name is required', { field: 'input.name' });
  }
  return createRow(ctx, ServiceCategory, data as Partial<ServiceCategory>, {
    what: 'ServiceCategory',
    fields,
  });
}

export async function archiveServiceCategory(ctx: RequestContext, id: string) {
  return updateRow(
    ctx,
    ServiceCategory,
    id,
    { archivedAt: new Date() },
    { what: 'ServiceCategory' },
  );
}
