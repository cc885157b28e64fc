import {
  Arg,
  Ctx,
  Field,
  ID,
  InputType,
  Int,
  Mutation,
  ObjectType,
  Query,
  Resolver,
} from 'type-graphql';
import {
  acceptInvitation,
  createCompany,
  inviteUser,
  ownCompanyRow,
  setCompanySuspended,
  setRetention,
  type CompanyRow,
} from '../companies/lifecycle.service';
import { offboardCompany } from '../companies/offboarding';
import { AppError } from '../errors/app-error';
import type { GraphQLContext } from '../graphql/context';
import type { GraphQLContextValue } from '../graphql/context';
import type { UserInvitation } from '../models';
import { AuthPayload } from './auth';
import { DateTime } from './common';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function companyIdArg(value: string): string {
  if (!UUID.test(value.trim())) {
    throw new AppError('BAD_USER_INPUT', 'companyId must be a company id', { field: 'companyId' });
  }
  return value.trim().toLowerCase();
}

@ObjectType({ description: "A company's life-cycle state and retention periods." })
export class CompanyLifecycle {
  @Field(() => ID)
  id!: string;

  @Field()
  slug!: string;

  @Field()
  locale!: string;

  @Field(() => DateTime, {
    nullable: true,
    description: 'Set while suspended: its users, tokens and voice functions are refused.',
  })
  suspendedAt!: Date | null;

  @Field(() => Int, { description: 'Days call transcripts are kept.' })
  transcriptRetentionDays!: number;

  @Field(() => Int, { description: 'Days call recordings are kept.' })
  recordingRetentionDays!: number;
}

const toLifecycle = (row: CompanyRow): CompanyLifecycle => ({
  id: row.id,
  slug: row.slug,
  locale: row.locale,
  suspendedAt: row.suspended_at,
  transcriptRetentionDays: row.transcript_retention_days,
  recordingRetentionDays: row.recording_retention_days,
});

@ObjectType({ description: 'An invitation; the token is shown only in this answer.' })
export class Invitation {
  @Field(() => ID)
  id!: string;

  @Field()
  email!: string;

  @Field(() => [String])
  roles!: string[];

  @Field(() => DateTime)
  expiresAt!: Date;

  @Field({ description: 'Single use; give it to the invitee (acceptInvitation).' })
  token!: string;
}

const toInvitation = (row: UserInvitation, token: string): Invitation => ({
  id: row.id,
  email: row.email,
  roles: row.roles,
  expiresAt: row.expiresAt,
  token,
});

@ObjectType({ description: 'A new company with the invitation of its first admin.' })
export class CompanyOnboarding {
  @Field(() => CompanyLifecycle)
  company!: CompanyLifecycle;

  @Field(() => Invitation)
  invitation!: Invitation;
}

@ObjectType({ description: 'One file of an offboarding export.' })
export class OffboardingFile {
  @Field()
  table!: string;

  @Field()
  file!: string;

  @Field(() => Int)
  rows!: number;

  @Field()
  sha256!: string;
}

@ObjectType({
  description: 'What offboarding exported (to the server export directory) and deleted.',
})
export class OffboardingReport {
  @Field(() => ID)
  companyId!: string;

  @Field()
  slug!: string;

  @Field({ description: 'The export directory on the server.' })
  directory!: string;

  @Field({ description: 'SHA-256 of manifest.json.' })
  manifestSha256!: string;

  @Field(() => Int)
  deletedRows!: number;

  @Field(() => [OffboardingFile])
  files!: OffboardingFile[];
}

@InputType()
class CreateCompanyInput {
  @Field()
  name!: string;

  @Field({ description: 'Lowercase letters, digits and dashes; used at sign-in.' })
  slug!: string;

  @Field({ description: 'IANA time zone, e.g. Europe/Berlin.' })
  timezone!: string;

  @Field(() => String, { nullable: true, description: 'e.g. de-DE (the default).' })
  locale?: string | null;

  @Field(() => String, { nullable: true, description: 'Two-letter region, DE by default.' })
  defaultRegion?: string | null;

  @Field({ description: 'Name of the first branch.' })
  branchName!: string;

  @Field({ description: 'Email of the first admin, who is invited.' })
  adminEmail!: string;
}

@InputType()
class InviteUserInput {
  @Field()
  email!: string;

  @Field(() => [String], { description: 'admin, manager or staff.' })
  roles!: string[];
}

@InputType()
class RetentionInput {
  @Field(() => Int, { nullable: true })
  transcriptRetentionDays?: number | null;

  @Field(() => Int, { nullable: true })
  recordingRetentionDays?: number | null;
}

@Resolver()
export class CompanyLifecycleResolver {
  @Query(() => CompanyLifecycle, {
    description: "The company's life-cycle state and retention periods.",
  })
  async companyLifecycle(@Ctx() { ctx }: GraphQLContext): Promise<CompanyLifecycle> {
    return toLifecycle(await ownCompanyRow(ctx));
  }

  @Mutation(() => CompanyOnboarding, {
    description:
      'Creates a company with its first branch and invites its first admin (super admin only).',
  })
  async createCompany(
    @Arg('input') input: CreateCompanyInput,
    @Ctx() { ctx }: GraphQLContext,
  ): Promise<CompanyOnboarding> {
    const { company, invitation, token } = await createCompany(ctx, input);
    return { company: toLifecycle(company), invitation: toInvitation(invitation, token) };
  }

  @Mutation(() => Invitation, {
    description: 'Invites a user into the company; the invitee sets a password with the token.',
  })
  async inviteUser(
    @Arg('input') input: InviteUserInput,
    @Ctx() { ctx }: GraphQLContext,
  ): Promise<Invitation> {
    const { invitation, token } = await inviteUser(ctx, input);
    return toInvitation(invitation, token);
  }

  @Mutation(() => AuthPayload, {
    description:
      'Accepts an invitation: creates the user with this name and password (12 characters or more) and signs them in.',
  })
  async acceptInvitation(
    @Arg('token') token: string,
    @Arg('name') name: string,
    @Arg('password') password: string,
    @Ctx() { ctx, auth }: GraphQLContextValue,
  ): Promise<AuthPayload> {
    const meta = { ip: ctx.ip, requestId: ctx.requestId };
    const { email, companySlug } = await acceptInvitation(
      ctx.deps,
      { token, name, password },
      meta,
    );
    return auth.login({ email, password, companySlug }, meta);
  }

  @Mutation(() => CompanyLifecycle, {
    description: 'Suspends a company: its users, API tokens and voice functions are refused.',
  })
  async suspendCompany(
    @Arg('companyId', () => ID) companyId: string,
    @Ctx() { ctx }: GraphQLContext,
  ): Promise<CompanyLifecycle> {
    return toLifecycle(await setCompanySuspended(ctx, companyIdArg(companyId), true));
  }

  @Mutation(() => CompanyLifecycle, {
    description: 'Reactivates a suspended company; webhook events that waited are applied.',
  })
  async reactivateCompany(
    @Arg('companyId', () => ID) companyId: string,
    @Ctx() { ctx }: GraphQLContext,
  ): Promise<CompanyLifecycle> {
    return toLifecycle(await setCompanySuspended(ctx, companyIdArg(companyId), false));
  }

  @Mutation(() => OffboardingReport, {
    description:
      'Exports everything a suspended company owns and deletes it, irreversibly (super admin only).',
  })
  async offboardCompany(
    @Arg('companyId', () => ID) companyId: string,
    @Ctx() { ctx }: GraphQLContext,
  ): Promise<OffboardingReport> {
    return offboardCompany(ctx, companyIdArg(companyId));
  }

  @Mutation(() => CompanyLifecycle, {
    description: 'Sets how long call transcripts and recordings are kept (1 to 3650 days).',
  })
  async updateRetention(
    @Arg('input') input: RetentionInput,
    @Ctx() { ctx }: GraphQLContext,
  ): Promise<CompanyLifecycle> {
    return toLifecycle(await setRetention(ctx, input));
  }
}
