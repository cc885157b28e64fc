import type { RequestContext } from '../../context/request-context';
import { AppError } from '../../errors/app-error';
import { Company } from '../../models';
import { checkTimezone } from '../../services/timezone';
import { AUDIT, SUBJECT } from '../audit';
import { checkRegion } from '../phone';
import { requiredText } from '../text';
import { forgetCompanySettings } from './company-settings';

/**
 * The caller's own company row (row level security shows no other); null outside a company.
 * Settings the domain reads (time zone, region, currency) come from `companySettings`, cached.
 */
export async function ownCompany(ctx: RequestContext): Promise<Company | null> {
  if (!ctx.companyId) return null;
  return (await Company.query(await ctx.trx()).first()) ?? null;
}

export interface UpdateCompanyInput {
  name?: string | null;
  timezone?: string | null;
  defaultRegion?: string | null;
}

/** Changes the company's name, time zone or phone region; audited with the changed fields. */
export async function updateCompany(ctx: RequestContext, input: UpdateCompanyInput) {
  const patch: Partial<Company> = {};
  if (input.name != null) patch.name = requiredText(input.name, 'input.name');
  if (input.timezone != null) patch.timezone = checkTimezone(input.timezone, 'input.timezone');
  if (input.defaultRegion != null) {
    patch.defaultRegion = checkRegion(input.defaultRegion, 'input.defaultRegion');
  }
  return ctx.unitOfWork(async (trx) => {
    const q = Company.query(trx);
    const [row] = Object.keys(patch).length
      ? await q.patch(patch).returning('*')
      : await q.select('*');
    if (!row) throw new AppError('NOT_FOUND', 'Company not found');
    await ctx.audit({
      action: AUDIT.company.update,
      subjectType: SUBJECT.company,
      subjectId: row.id,
      details: {
        fields: Object.keys(patch).map((k) => (k === 'defaultRegion' ? 'default_region' : k)),
      },
    });
    forgetCompanySettings(ctx);
    return row;
  });
}
