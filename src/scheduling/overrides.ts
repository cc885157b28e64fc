import type { RequestContext } from '../context/request-context';
import { AppError, type ErrorCode } from '../errors/app-error';
import type { SubjectType } from '../domain/audit';
import { badInput } from '../errors/app-error';

/**
 * Overriding scheduling rules. Staff on the phone sometimes must book outside the rules (a regular
 * customer, an emergency); an admin or manager may do so by giving a reason. Each rule that was
 * actually broken is written to the activity log with that reason, so the exception is visible
 * later. Asking for an override without the role is refused outright, whether or not a rule would
 * have been broken, so the permission does not depend on timing.
 */

export interface OverrideInput {
  reason: string;
}

export interface OverrideGrant {
  reason: string;
}

/** A broken rule: what it is, what it allowed, what was asked. */
export interface RuleViolation {
  /** Stable rule id, e.g. 'booking.minNoticeHours' or 'availability.workingHours'. */
  rule: string;
  message: string;
  /** The input field the violation is about. */
  field: string;
  code?: Extract<ErrorCode, 'BAD_USER_INPUT' | 'CONFLICT'>;
  limit?: unknown;
  actual?: unknown;
}

const MAX_REASON = 500;

/** Whether this actor may override scheduling rules: admins, managers and super admins. */
export function mayOverride(ctx: RequestContext): boolean {
  const actor = ctx.actor;
  if (actor.kind === 'platform_admin') return ctx.companyId !== null;
  return actor.kind === 'user' && actor.roles.some((r) => r === 'admin' || r === 'manager');
}

/** Validates an override request and the actor's right to make it; null when none was asked for. */
export function checkOverride(
  ctx: RequestContext,
  override: OverrideInput | null | undefined,
): OverrideGrant | null {
  if (override === undefined || override === null) return null;
  const reason = typeof override.reason === 'string' ? override.reason.trim() : '';
  if (reason.length === 0) {
    throw badInput(
      'override.reason',
      'override.reason is required: say why the rules are set aside',
    );
  }
  if (reason.length > MAX_REASON) {
    throw badInput('override.reason', `override.reason must be at most ${MAX_REASON} characters`);
  }
  if (!mayOverride(ctx)) {
    ctx.deps.metrics.authorizationDenials.inc({ rule: 'scheduling_override' });
    throw new AppError('FORBIDDEN', 'Only an admin or a manager may override scheduling rules', {
      field: 'override',
      details: { reason: 'OVERRIDE_NOT_ALLOWED' },
    });
  }
  return { reason };
}

export function violationError(violation: RuleViolation, all: readonly RuleViolation[]): AppError {
  return new AppError(violation.code ?? 'BAD_USER_INPUT', violation.message, {
    field: violation.field,
    details: {
      rule: violation.rule,
      ...(violation.limit !== undefined ? { limit: violation.limit } : {}),
      ...(violation.actual !== undefined ? { actual: violation.actual } : {}),
      overridable: true,
      ...(all.length > 1 ? { rules: all.map((v) => v.rule) } : {}),
    },
  });
}

/**
 * Lets the operation go ahead when nothing is broken or an override was granted, returning the
 * rules that are set aside; otherwise throws for the first broken rule.
 */
export function enforceRules(
  violations: readonly RuleViolation[],
  grant: OverrideGrant | null,
): RuleViolation[] {
  if (violations.length === 0) return [];
  if (!grant) throw violationError(violations[0], violations);
  return [...violations];
}

/** One activity log entry per overridden rule, with the reason given. */
export async function auditOverrides(
  ctx: RequestContext,
  overridden: readonly RuleViolation[],
  grant: OverrideGrant | null,
  subject: { type: SubjectType; id: string; operation: string },
): Promise<void> {
  if (!grant) return;
  for (const v of overridden) {
    await ctx.audit({
      action: 'scheduling.rule_overridden',
      subjectType: subject.type,
      subjectId: subject.id,
      reason: grant.reason,
      details: {
        rule: v.rule,
        operation: subject.operation,
        message: v.message,
        ...(v.limit !== undefined ? { limit: v.limit } : {}),
        ...(v.actual !== undefined ? { actual: v.actual } : {}),
      },
    });
  }
}
