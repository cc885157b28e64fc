import type { RequestContext } from '../../context/request-context';
import { Branch } from '../../models';
import { createRow, updateRow } from '../../services/crud';
import { checkTimezone } from '../../services/timezone';
import { optionalCompanyPhone } from '../companies/company-settings';
import { likePattern, optionalText, requiredText } from '../text';

/** Branches: the only code that writes the `branches` table. */

const BRANCH_FIELDS = { branches_company_id_name_unique: 'input.name' };

export interface BranchInput {
  name?: string | null;
  address?: string | null;
  phone?: string | null;
  timezone?: string | null;
}

export interface BranchSearch {
  search?: string | null;
  includeArchived?: boolean;
}

/** The branches query for a search (name contains the text), for paging by name. */
export async function branchQuery(ctx: RequestContext, filter: BranchSearch | null) {
  const q = Branch.query(await ctx.trx());
  if (!filter?.includeArchived) q.whereNull('archived_at');
  if (filter?.search) q.whereILike('name', `%${likePattern(filter.search)}%`);
  return { query: q };
}

export async function createBranch(ctx: RequestContext, input: BranchInput) {
  return createRow(
    ctx,
    Branch,
    {
      name: requiredText(input.name, 'input.name'),
      address: optionalText(input.address, 'input.address', 500) ?? null,
      phoneE164: (await optionalCompanyPhone(ctx, input.phone, 'input.phone')) ?? null,
      timezone: input.timezone == null ? null : checkTimezone(input.timezone, 'input.timezone'),
    },
    { what: 'Branch', fields: BRANCH_FIELDS },
  );
}

export async function updateBranch(ctx: RequestContext, id: string, input: BranchInput) {
  return updateRow(
    ctx,
    Branch,
    id,
    {
      name: input.name == null ? undefined : requiredText(input.name, 'input.name'),
      address: optionalText(input.address, 'input.address', 500),
      phoneE164: await optionalCompanyPhone(ctx, input.phone, 'input.phone'),
      timezone:
        input.timezone === undefined
          ? undefined
          : input.timezone === null
            ? null
            : checkTimezone(input.timezone, 'input.timezone'),
    },
    { what: 'Branch', fields: BRANCH_FIELDS },
  );
}

/** Archives a branch; it keeps its history. */
export async function archiveBranch(ctx: RequestContext, id: string) {
  return updateRow(ctx, Branch, id, { archivedAt: new Date() }, { what: 'Branch' });
}
