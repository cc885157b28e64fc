import DataLoader from 'dataloader';
import type { RequestContext } from '../../context/request-context';
import { AppError } from '../../errors/app-error';
import { Call, PhoneNumber } from '../../models';
import { createRow, updateRow } from '../../services/crud';
import { companyPhone } from '../companies/company-settings';
import { optionalText } from '../text';

/**
 * Calls and the numbers the voice agent answers. Calls are written by the Retell call events
 * (`src/webhooks/retell-effects.ts`) and the voice agent; here they are read. Phone numbers are
 * written only here. Ids are local (already translated).
 */

export interface CallSearch {
  createdFrom?: Date | null;
  createdTo?: Date | null;
  customerId?: string | null;
  outcome?: string | null;
}

/** The calls query for a filter, for paging newest first. */
export async function callQuery(ctx: RequestContext, filter: CallSearch) {
  const q = Call.query(await ctx.trx());
  if (filter.createdFrom) q.where('calls.created_at', '>=', filter.createdFrom);
  if (filter.createdTo) q.where('calls.created_at', '<', filter.createdTo);
  if (filter.customerId) q.where('customer_id', filter.customerId);
  if (filter.outcome) q.where('outcome', filter.outcome);
  return { query: q };
}

/** One voice-agent function call of a call's log. */
export interface FunctionCallView {
  id: string;
  functionName: string;
  outcome: string;
  errorCode: string | null;
  latencyMs: number;
  replayed: boolean;
  createdAt: Date;
}

interface FunctionCallRow {
  id: string;
  call_id: string;
  function_name: string;
  outcome: string;
  error_code: string | null;
  latency_ms: number;
  replayed: boolean;
  created_at: Date;
}

/** The function-call log of every Call in the page, in one statement. */
export function functionCallLoader(ctx: RequestContext): DataLoader<string, FunctionCallView[]> {
  const key = 'voiceFunctionCalls:byCall';
  let loader = ctx.cache.get(key) as DataLoader<string, FunctionCallView[]> | undefined;
  if (!loader) {
    loader = new DataLoader<string, FunctionCallView[]>(
      async (ids) => {
        const trx = await ctx.trx();
        const rows: FunctionCallRow[] = await trx('voice_function_calls')
          .whereIn('call_id', ids as string[])
          .orderBy(['call_id', 'created_at', 'id']);
        const byCall = new Map<string, FunctionCallView[]>();
        for (const r of rows) {
          const list = byCall.get(r.call_id) ?? [];
          list.push({
            id: r.id,
            functionName: r.function_name,
            outcome: r.outcome,
            errorCode: r.error_code,
            latencyMs: r.latency_ms,
            replayed: r.replayed,
            createdAt: r.created_at,
          });
          byCall.set(r.call_id, list);
        }
        return ids.map((id) => byCall.get(id) ?? []);
      },
      { maxBatchSize: 500 },
    );
    ctx.cache.set(key, loader);
  }
  return loader;
}

export async function phoneNumberQuery(ctx: RequestContext) {
  return { query: PhoneNumber.query(await ctx.trx()) };
}

export interface SavePhoneNumberInput {
  id?: string | null;
  number?: string | null;
  label?: string | null;
  active?: boolean | null;
  branchId?: string | null;
}

const PHONE_NUMBER_FIELDS = {
  phone_numbers_company_id_number_e164_unique: 'input.number',
  phone_numbers_number_platform_unique: 'input.number',
};

/**
 * Adds a phone number, or updates it when `id` is given. A number belongs to one company
 * platform-wide: only a super admin assigns or changes it; admins change label, branch, active.
 */
export async function savePhoneNumber(ctx: RequestContext, input: SavePhoneNumberInput) {
  if (input.number && ctx.actor.kind !== 'platform_admin') {
    throw new AppError('FORBIDDEN', 'Only a super admin assigns phone numbers', {
      field: 'input.number',
    });
  }
  const data = {
    numberE164: input.number ? await companyPhone(ctx, input.number, 'input.number') : undefined,
    label: optionalText(input.label, 'input.label', 100),
    active: input.active ?? undefined,
    branchId: input.branchId,
  };
  if (input.id) {
    return updateRow(ctx, PhoneNumber, input.id, data, {
      what: 'PhoneNumber',
      fields: PHONE_NUMBER_FIELDS,
    });
  }
  if (!data.numberE164) {
    throw new AppError('BAD_USER_INPUT', 'input.number is required', { field: 'input.number' });
  }
  return createRow(ctx, PhoneNumber, data as Partial<PhoneNumber>, {
    what: 'PhoneNumber',
    fields: PHONE_NUMBER_FIELDS,
  });
}
