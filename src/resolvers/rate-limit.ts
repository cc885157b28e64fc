import {
  Arg,
  Ctx,
  Extensions,
  Field,
  Int,
  Mutation,
  ObjectType,
  Query,
  Resolver,
} from 'type-graphql';
import type { GraphQLContext } from '../graphql/context';
import { AppError } from '../errors/app-error';
import { cost } from '../graphql/limits/cost-model';
import { limitsRuntimeOf } from '../graphql/limits/runtime';
import { DateTime } from './common';
import { actorId } from '../context/actor';
import { recordActivityIn } from '../domain/activity-log.service';
import { AUDIT, SUBJECT } from '../domain/audit';
import { writePlatformAudit } from '../services/platform-audit';
import { inTenantTransaction } from '../tenancy/tenant-binding';

@ObjectType({
  description:
    'The caller’s GraphQL points bucket (the tightest one: company or API token), after this operation.',
})
export class RateLimit {
  @Field({ description: 'company, apiToken, platformAdmin or address.' })
  scope!: string;

  @Field(() => Int, { description: 'Points per window.' })
  limit!: number;

  @Field(() => Int, { description: 'Points left in this window.' })
  remaining!: number;

  @Field(() => Int, { description: 'Points spent in this window.' })
  used!: number;

  @Field(() => Int, { description: 'What this operation was charged.' })
  cost!: number;

  @Field(() => DateTime, { description: 'When the window ends and the whole limit is back.' })
  resetAt!: Date;

  @Field(() => Int)
  windowSeconds!: number;

  @Field(() => Int, { description: 'The most one operation may cost.' })
  maxOperationCost!: number;
}

@ObjectType({ description: 'A company’s GraphQL points limit, as set by a super admin.' })
export class CompanyApiLimit {
  @Field(() => Int, { nullable: true, description: 'The company’s own limit; null: the default.' })
  pointsPerWindow!: number | null;

  @Field(() => Int, { description: 'The limit that applies.' })
  effectivePointsPerWindow!: number;

  @Field(() => Int)
  windowSeconds!: number;
}

@Resolver()
export class RateLimitResolver {
  @Query(() => RateLimit, {
    description:
      'The caller’s points bucket. Free: asking only for it costs nothing and works when the bucket is empty.',
  })
  @Extensions(cost(0))
  async rateLimit(@Ctx() { ctx }: GraphQLContext): Promise<RateLimit> {
    const runtime = limitsRuntimeOf(ctx.deps);
    const limits = ctx.deps.config.graphqlLimits;
    let state = runtime.stateOf(ctx);
    if (!state) {
      const buckets = await runtime.bucketsFor(ctx);
      const peeked = await Promise.all(buckets.map((b) => runtime.store.peek(b.key, b.limit)));
      state = { requested: 0, buckets: buckets.map((b, i) => ({ ...b, ...peeked[i] })) };
    }
    const tightest = state.buckets.reduce((a, b) => (b.remaining < a.remaining ? b : a));
    return {
      scope: tightest.scope,
      limit: tightest.limit,
      remaining: tightest.remaining,
      used: tightest.limit - tightest.remaining,
      cost: state.requested,
      resetAt: new Date(Date.now() + tightest.resetSeconds * 1000),
      windowSeconds: tightest.windowSeconds,
      maxOperationCost: limits.maxCost,
    };
  }

  @Mutation(() => CompanyApiLimit, {
    description:
      'Sets the GraphQL points limit of the company chosen with X-Company-Id (null: back to the default). Super admins only; written to the company’s activity log.',
  })
  async setCompanyApiPointsLimit(
    @Arg('pointsPerWindow', () => Int, { nullable: true }) pointsPerWindow: number | null,
    @Ctx() { ctx }: GraphQLContext,
  ): Promise<CompanyApiLimit> {
    const companyId = ctx.requireCompanyId();
    if (pointsPerWindow !== null && (pointsPerWindow < 1 || pointsPerWindow > 1_000_000_000)) {
      throw new AppError('BAD_USER_INPUT', 'pointsPerWindow must be from 1 to 1000000000', {
        field: 'pointsPerWindow',
      });
    }
    const limits = ctx.deps.config.graphqlLimits;
    // A platform setting: platform_set_company_api_points is for the platform role only, so the
    // change, the company's activity entry and the platform audit entry commit together in one
    // platform transaction bound to the company.
    await inTenantTransaction(ctx.deps.db.platform, companyId, async (trx) => {
      const { rows } = (await trx.raw(
        'select platform_set_company_api_points(?::uuid, ?::integer) as previous',
        [companyId, pointsPerWindow],
      )) as { rows: Array<{ previous: number | null }> };
      const details = { previous: rows[0]?.previous ?? null, pointsPerWindow };
      await recordActivityIn(ctx, trx, {
        action: AUDIT.company.apiPointsLimitSet,
        subjectType: SUBJECT.company,
        subjectId: companyId,
        details,
      });
      await writePlatformAudit(trx, {
        actorType: 'platform_admin',
        actorId: actorId(ctx.actor),
        action: 'company.api_points_limit.set',
        targetCompanyId: companyId,
        details,
        requestId: ctx.requestId,
        ip: ctx.ip ?? null,
      });
    });
    ctx.deps.metrics.tenantScopeBypasses.inc({ actor: ctx.actor.kind });
    limitsRuntimeOf(ctx.deps).setCompanyLimit(companyId, pointsPerWindow);
    return {
      pointsPerWindow,
      effectivePointsPerWindow: pointsPerWindow ?? limits.companyPointsPerWindow,
      windowSeconds: limits.windowSeconds,
    };
  }
}
