import {
  Arg,
  Ctx,
  Field,
  ID,
  InputType,
  Mutation,
  ObjectType,
  Query,
  Resolver,
} from 'type-graphql';
import type { GraphQLContext } from '../graphql/context';
import { EmailAddressResolver } from 'graphql-scalars';
import { checkPasswordPolicy, hashPassword } from '../auth/password';
import { actorId } from '../context/actor';
import { translateDbError } from '../db/errors';
import { requiredText } from '../domain/text';
import * as companies from '../domain/companies/company.service';
import type { Company } from '../models';
import { writePlatformAudit } from '../services/platform-audit';
import { DateTime } from './common';

@ObjectType('Company', {
  description: 'The tenant: a business whose phone is answered by the voice agent.',
})
export class CompanyType {
  @Field(() => ID, { description: 'The company id, as sent in the X-Company-Id header.' })
  id!: string;

  @Field()
  name!: string;

  @Field()
  slug!: string;

  @Field({ description: 'IANA time zone.' })
  timezone!: string;

  @Field({ description: 'ISO 3166 region used to read local phone numbers.' })
  defaultRegion!: string;

  @Field()
  currency!: string;

  @Field(() => DateTime)
  createdAt!: Date;
}

interface CompanyRow {
  id: string;
  name: string;
  slug: string;
  timezone: string;
  default_region: string;
  currency: string;
  created_at: Date;
}

/** The GraphQL view of the caller's company. */
export const companyView = (row: Company | null): CompanyType | null =>
  row && {
    id: row.id,
    name: row.name,
    slug: row.slug,
    timezone: row.timezone,
    defaultRegion: row.defaultRegion,
    currency: row.currency,
    createdAt: row.createdAt,
  };

const toCompany = (row: CompanyRow): CompanyType => ({
  id: row.id,
  name: row.name,
  slug: row.slug,
  timezone: row.timezone,
  defaultRegion: row.default_region,
  currency: row.currency,
  createdAt: row.created_at,
});

@InputType()
class UpdateCompanyInput {
  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => String, { nullable: true })
  timezone?: string | null;

  @Field(() => String, { nullable: true, description: 'Two-letter region, e.g. DE.' })
  defaultRegion?: string | null;
}

@ObjectType({ description: 'A platform operator (super admin).' })
export class PlatformAdmin {
  @Field(() => ID)
  id!: string;

  @Field()
  email!: string;

  @Field()
  name!: string;
}

@InputType()
class CreatePlatformAdminInput {
  @Field(() => EmailAddressResolver)
  email!: string;

  @Field()
  name!: string;

  @Field({ description: 'At least 12 characters.' })
  password!: string;
}

@Resolver(() => CompanyType)
export class CompanyResolver {
  @Mutation(() => PlatformAdmin, {
    description: 'Creates another platform operator. Only a super admin may do this.',
  })
  async createPlatformAdmin(
    @Arg('input') input: CreatePlatformAdminInput,
    @Ctx() { ctx }: GraphQLContext,
  ): Promise<PlatformAdmin> {
    checkPasswordPolicy(input.password, 'input.password');
    const name = requiredText(input.name, 'input.name');
    const email = input.email.toLowerCase();
    const passwordHash = await hashPassword(input.password);
    let id: string;
    try {
      // A platform operation: the new admin and its platform audit entry commit together.
      id = await ctx.deps.db.platform.transaction(async (trx) => {
        const { rows } = (await trx.raw('select platform_create_admin(?::citext, ?, ?) as id', [
          email,
          name,
          passwordHash,
        ])) as { rows: { id: string }[] };
        await writePlatformAudit(trx, {
          actorType: 'platform_admin',
          actorId: actorId(ctx.actor),
          action: 'platform_admin.create',
          details: { createdAdminId: rows[0].id, email },
          requestId: ctx.requestId,
          ip: ctx.ip ?? null,
        });
        return rows[0].id;
      });
    } catch (err) {
      translateDbError(err, { platform_admins_email_unique: 'input.email' });
    }
    ctx.deps.logger.warn(
      { requestId: ctx.requestId, actor: actorId(ctx.actor), created: id },
      'platform admin created',
    );
    return { id, email, name };
  }

  @Query(() => CompanyType, { nullable: true, description: 'The company the request acts in.' })
  async company(@Ctx() { ctx }: GraphQLContext): Promise<CompanyType | null> {
    return companyView(await companies.ownCompany(ctx));
  }

  @Query(() => [CompanyType], {
    description: 'All companies, for platform admins choosing one (X-Company-Id).',
  })
  async companies(@Ctx() { ctx }: GraphQLContext): Promise<CompanyType[]> {
    // A named platform operation through a SECURITY DEFINER function; counted.
    ctx.deps.metrics.tenantScopeBypasses.inc({ actor: ctx.actor.kind });
    const { rows } = (await ctx.deps.db.platform.raw('select * from platform_companies()')) as {
      rows: Array<CompanyRow & { default_region?: string; currency?: string }>;
    };
    await writePlatformAudit(ctx.deps.db.platform, {
      actorType: 'platform_admin',
      actorId: actorId(ctx.actor),
      action: 'platform.list_companies',
      details: { returned: rows.length },
      requestId: ctx.requestId,
      ip: ctx.ip ?? null,
    });
    return rows.map((r) =>
      toCompany({ ...r, default_region: r.default_region ?? '', currency: r.currency ?? '' }),
    );
  }

  @Mutation(() => CompanyType)
  async updateCompany(
    @Arg('input') input: UpdateCompanyInput,
    @Ctx() { ctx }: GraphQLContext,
  ): Promise<CompanyType> {
    return companyView(await companies.updateCompany(ctx, input)) as CompanyType;
  }
}
