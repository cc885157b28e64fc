import { translateDbError } from '../db/errors';
import type { Knex } from 'knex';
import type { RequestContext } from '../context/request-context';
import { AppError } from '../errors/app-error';
import { Branch, PolicyConfiguration, Service } from '../models';
import { badInput, notFound } from '../errors/app-error';
import { optionalId, requireId } from '../domain/ids';

/**
 * Booking, cancellation and rescheduling policies. A company sets them company-wide and may refine
 * them per branch, per service, or per service at one branch. The effective policy is resolved key
 * by key: each setting comes from the most specific active policy that sets it (branch+service,
 * then service, then branch, then company), else from the defaults below. A policy can therefore
 * change one setting for a service without repeating the rest; `null` for an optional limit means
 * "no limit" and also overrides a less specific limit.
 */

export const POLICY_TYPES = ['booking', 'cancellation', 'rescheduling'] as const;
export type PolicyType = (typeof POLICY_TYPES)[number];

export interface BookingPolicy {
  /** Bookings must start at least this many hours from now. */
  minNoticeHours: number;
  /** Bookings must start within this many days from now. */
  horizonDays: number;
  /** At most this many non-cancelled appointments per customer per local day; null: no limit. */
  maxPerCustomerPerDay: number | null;
  /** At most this many upcoming scheduled or confirmed appointments per customer; null: no limit. */
  maxActivePerCustomer: number | null;
  /** Spacing of offered slot start times. */
  slotStepMinutes: number;
}

export interface CancellationPolicy {
  /** Cancellations later than this many hours before the start are late. */
  minNoticeHours: number;
  /** Fee charged for a late cancellation, which is then allowed; null: late cancellations are refused. */
  feeCents: number | null;
}

export interface ReschedulingPolicy {
  /** Rescheduling must happen at least this many hours before the current start. */
  minNoticeHours: number;
  /** How many times one booking may be moved. */
  maxReschedules: number;
}

export interface PolicyConfigs {
  booking: BookingPolicy;
  cancellation: CancellationPolicy;
  rescheduling: ReschedulingPolicy;
}

export const DEFAULT_POLICIES: Readonly<PolicyConfigs> = Object.freeze({
  booking: {
    minNoticeHours: 0,
    horizonDays: 90,
    maxPerCustomerPerDay: null,
    maxActivePerCustomer: null,
    slotStepMinutes: 15,
  },
  cancellation: { minNoticeHours: 0, feeCents: null },
  rescheduling: { minNoticeHours: 0, maxReschedules: 3 },
});

interface SettingSpec {
  integer: boolean;
  min: number;
  max: number;
  nullable: boolean;
}

const num = (min: number, max: number): SettingSpec => ({
  integer: false,
  min,
  max,
  nullable: false,
});
const int = (min: number, max: number, nullable = false): SettingSpec => ({
  integer: true,
  min,
  max,
  nullable,
});

/** The settings each policy type accepts; anything else is refused. */
export const POLICY_SETTINGS: { [T in PolicyType]: Record<keyof PolicyConfigs[T], SettingSpec> } = {
  booking: {
    minNoticeHours: num(0, 8760),
    horizonDays: int(1, 730),
    maxPerCustomerPerDay: int(1, 50, true),
    maxActivePerCustomer: int(1, 100, true),
    slotStepMinutes: int(5, 240),
  },
  cancellation: {
    minNoticeHours: num(0, 8760),
    feeCents: int(0, 10_000_000, true),
  },
  rescheduling: {
    minNoticeHours: num(0, 8760),
    maxReschedules: int(0, 100),
  },
};

export function isPolicyType(value: unknown): value is PolicyType {
  return typeof value === 'string' && (POLICY_TYPES as readonly string[]).includes(value);
}

/**
 * Validates a policy's settings for its type. Errors name the setting as `<prefix>.<key>`
 * (`config.minNoticeHours`); unknown settings are refused so a typo never silently does nothing.
 */
export function validatePolicyConfig<T extends PolicyType>(
  type: T,
  config: unknown,
  prefix = 'config',
): Partial<PolicyConfigs[T]> {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw badInput(prefix, `${prefix} must be an object of ${type} policy settings`);
  }
  const specs = POLICY_SETTINGS[type] as Record<string, SettingSpec>;
  const known = Object.keys(specs);
  const out: Record<string, number | null> = {};
  for (const [key, value] of Object.entries(config as Record<string, unknown>)) {
    const field = `${prefix}.${key}`;
    const spec = specs[key];
    if (!spec) {
      throw badInput(field, `${key} is not a ${type} policy setting; use ${known.join(', ')}`, {
        allowed: known,
      });
    }
    if (value === null) {
      if (!spec.nullable) throw badInput(field, `${field} cannot be null`);
      out[key] = null;
      continue;
    }
    const kind = spec.integer ? 'a whole number' : 'a number';
    if (
      typeof value !== 'number' ||
      !Number.isFinite(value) ||
      (spec.integer && !Number.isInteger(value)) ||
      value < spec.min ||
      value > spec.max
    ) {
      throw badInput(field, `${field} must be ${kind} from ${spec.min} to ${spec.max}`, {
        min: spec.min,
        max: spec.max,
        ...(spec.nullable ? { nullable: true } : {}),
      });
    }
    out[key] = value;
  }
  return out as Partial<PolicyConfigs[T]>;
}

/** Stored settings that are still valid; a setting that no longer validates is ignored. */
function storedSettings(type: PolicyType, config: unknown): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  if (!config || typeof config !== 'object') return out;
  for (const [key, value] of Object.entries(config as Record<string, unknown>)) {
    try {
      Object.assign(out, validatePolicyConfig(type, { [key]: value }));
    } catch {
      // ignored: see above
    }
  }
  return out;
}

export type PolicyScope = 'company' | 'branch' | 'service' | 'branch_service';

export function scopeOf(row: { branchId: string | null; serviceId: string | null }): PolicyScope {
  if (row.branchId && row.serviceId) return 'branch_service';
  if (row.serviceId) return 'service';
  if (row.branchId) return 'branch';
  return 'company';
}

const SPECIFICITY: Record<PolicyScope, number> = {
  company: 0,
  branch: 1,
  service: 2,
  branch_service: 3,
};

export interface PolicyView {
  id: string;
  policyType: PolicyType;
  scope: PolicyScope;
  branchId: string | null;
  serviceId: string | null;
  config: Record<string, number | null>;
  active: boolean;
  createdAt: Date;
  updatedAt: Date;
}

function toView(row: PolicyConfiguration): PolicyView {
  const type = row.policyType as PolicyType;
  return {
    id: row.id,
    policyType: type,
    scope: scopeOf(row),
    branchId: row.branchId,
    serviceId: row.serviceId,
    config: storedSettings(type, row.config),
    active: row.active,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

export interface EffectivePolicy<T extends PolicyType = PolicyType> {
  policyType: T;
  config: PolicyConfigs[T];
  /** Where each setting came from: a policy id, or 'default'. */
  sources: Record<string, string>;
}

/** Resolves the effective policy of one type from the rows that apply to a scope. */
export function resolvePolicy<T extends PolicyType>(
  type: T,
  rows: readonly {
    id: string;
    policyType: string;
    branchId: string | null;
    serviceId: string | null;
    config: unknown;
    active?: boolean;
  }[],
): EffectivePolicy<T> {
  const applicable = rows
    .filter((r) => r.policyType === type && r.active !== false)
    .sort((a, b) => SPECIFICITY[scopeOf(a)] - SPECIFICITY[scopeOf(b)]);
  const config: Record<string, number | null> = { ...DEFAULT_POLICIES[type] };
  const sources: Record<string, string> = Object.fromEntries(
    Object.keys(config).map((k) => [k, 'default']),
  );
  for (const row of applicable) {
    for (const [key, value] of Object.entries(storedSettings(type, row.config))) {
      config[key] = value;
      sources[key] = row.id;
    }
  }
  return { policyType: type, config: config as unknown as PolicyConfigs[T], sources };
}

/** The active policy rows of the given types that apply to a branch and service, in one query. */
export async function loadPolicyRows(
  trx: Knex.Transaction,
  types: readonly PolicyType[],
  scope: { branchId?: string | null; serviceId?: string | null },
): Promise<PolicyConfiguration[]> {
  return PolicyConfiguration.query(trx)
    .whereIn('policy_type', types as PolicyType[])
    .where('active', true)
    .where((q) => {
      q.whereNull('branch_id');
      if (scope.branchId) q.orWhere('branch_id', scope.branchId);
    })
    .where((q) => {
      q.whereNull('service_id');
      if (scope.serviceId) q.orWhere('service_id', scope.serviceId);
    });
}

/** The effective policies of several types for one scope, from one query. */
export async function loadEffectivePolicies<T extends PolicyType>(
  trx: Knex.Transaction,
  types: readonly T[],
  scope: { branchId?: string | null; serviceId?: string | null },
): Promise<{ [K in T]: EffectivePolicy<K> }> {
  const rows = await loadPolicyRows(trx, types, scope);
  const out = {} as { [K in T]: EffectivePolicy<K> };
  for (const type of types) (out as Record<string, unknown>)[type] = resolvePolicy(type, rows);
  return out;
}

export interface EffectivePolicyScope {
  branchId?: string | null;
  serviceId?: string | null;
}

/** The policy of a type that applies to a branch and/or service, settings resolved key by key. */
export async function effectivePolicy<T extends PolicyType>(
  ctx: RequestContext,
  type: T,
  scope: EffectivePolicyScope = {},
): Promise<EffectivePolicy<T>> {
  if (!isPolicyType(type))
    throw badInput('policyType', `policyType must be one of ${POLICY_TYPES.join(', ')}`);
  const branchId = optionalId(scope.branchId, 'branchId', 'Branch');
  const serviceId = optionalId(scope.serviceId, 'serviceId', 'Service');
  const trx = await ctx.trx();
  const rows = await loadPolicyRows(trx, [type], { branchId, serviceId });
  return resolvePolicy(type, rows);
}

export interface ListPoliciesFilter {
  policyType?: PolicyType | null;
  branchId?: string | null;
  serviceId?: string | null;
}

/** The company's policies, by type and then from the widest scope to the narrowest. */
export async function listPolicies(
  ctx: RequestContext,
  filter: ListPoliciesFilter = {},
): Promise<PolicyView[]> {
  if (filter.policyType != null && !isPolicyType(filter.policyType)) {
    throw badInput('policyType', `policyType must be one of ${POLICY_TYPES.join(', ')}`);
  }
  const branchId = optionalId(filter.branchId, 'branchId', 'Branch');
  const serviceId = optionalId(filter.serviceId, 'serviceId', 'Service');
  const trx = await ctx.trx();
  const q = PolicyConfiguration.query(trx);
  if (filter.policyType) q.where('policy_type', filter.policyType);
  if (branchId) q.where('branch_id', branchId);
  if (serviceId) q.where('service_id', serviceId);
  const rows = await q;
  return rows
    .map(toView)
    .sort(
      (a, b) =>
        POLICY_TYPES.indexOf(a.policyType) - POLICY_TYPES.indexOf(b.policyType) ||
        SPECIFICITY[a.scope] - SPECIFICITY[b.scope] ||
        a.createdAt.getTime() - b.createdAt.getTime(),
    );
}

export interface UpsertPolicyInput {
  policyType: PolicyType;
  /** Omitted for a company-wide policy. */
  branchId?: string | null;
  serviceId?: string | null;
  config: Record<string, unknown>;
  /** An inactive policy is kept but not applied. Default true. */
  active?: boolean | null;
}

const POLICY_FKS = {
  policy_configurations_branch_id_fkey: 'branchId',
  policy_configurations_service_id_fkey: 'serviceId',
};

/**
 * Creates the policy of a type for a scope, or replaces the settings of the one that exists
 * (there is at most one per type and scope).
 */
export async function upsertPolicy(
  ctx: RequestContext,
  input: UpsertPolicyInput,
): Promise<PolicyView> {
  if (!isPolicyType(input.policyType)) {
    throw badInput('policyType', `policyType must be one of ${POLICY_TYPES.join(', ')}`);
  }
  const type = input.policyType;
  const config = validatePolicyConfig(type, input.config);
  if (input.active != null && typeof input.active !== 'boolean') {
    throw badInput('active', 'active must be true or false');
  }
  const branchId = optionalId(input.branchId, 'branchId', 'Branch');
  const serviceId = optionalId(input.serviceId, 'serviceId', 'Service');
  const trx = await ctx.trx();
  if (branchId && !(await Branch.query(trx).findById(branchId).select('id'))) {
    throw notFound('Branch', 'branchId');
  }
  if (serviceId && !(await Service.query(trx).findById(serviceId).select('id'))) {
    throw notFound('Service', 'serviceId');
  }

  return ctx.unitOfWork(async (inner) => {
    try {
      const existing = await PolicyConfiguration.query(inner)
        .where('policy_type', type)
        .where((q) => (branchId ? q.where('branch_id', branchId) : q.whereNull('branch_id')))
        .where((q) => (serviceId ? q.where('service_id', serviceId) : q.whereNull('service_id')))
        .forUpdate()
        .first();
      let row: PolicyConfiguration;
      if (existing) {
        row = await existing.$query(inner).patchAndFetch({
          config: config as Record<string, unknown>,
          active: input.active ?? true,
        });
      } else {
        row = await PolicyConfiguration.query(inner)
          .insert({
            policyType: type,
            branchId,
            serviceId,
            config: config as Record<string, unknown>,
            active: input.active ?? true,
          })
          .returning('*');
      }
      const view = toView(row);
      await ctx.audit({
        action: existing ? 'policy.updated' : 'policy.created',
        subjectType: 'policy_configuration',
        subjectId: row.id,
        details: {
          policyType: type,
          scope: view.scope,
          branchId,
          serviceId,
          config,
          active: view.active,
          ...(existing ? { previousConfig: existing.config, previousActive: existing.active } : {}),
        },
      });
      return view;
    } catch (err) {
      translateDbError(err, POLICY_FKS);
    }
  });
}

/** Deletes a policy; the next less specific one (or the default) applies again. */
export async function deletePolicy(ctx: RequestContext, id: string): Promise<PolicyView> {
  const policyId = requireId(id, 'id', 'Policy');
  return ctx.unitOfWork(async (trx) => {
    const rows = await PolicyConfiguration.query(trx)
      .delete()
      .where('policy_configurations.id', policyId)
      .returning('*');
    const row = rows[0];
    if (!row) throw new AppError('NOT_FOUND', 'Policy not found', { field: 'id' });
    const view = toView(row);
    await ctx.audit({
      action: 'policy.deleted',
      subjectType: 'policy_configuration',
      subjectId: row.id,
      details: { policyType: view.policyType, scope: view.scope, config: row.config },
    });
    return view;
  });
}
