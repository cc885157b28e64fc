import {
  Arg,
  Args,
  Ctx,
  Field,
  FieldResolver,
  ID,
  InputType,
  Mutation,
  ObjectType,
  Query,
  registerEnumType,
  Resolver,
  Root,
} from 'type-graphql';
import { EmailAddressResolver } from 'graphql-scalars';
import { createApiToken, revokeApiToken } from '../auth/auth.service';
import { SCOPES } from '../auth/access';
import { connectionOf, PageArgs, paginate } from '../graphql/connection';
import type { GraphQLContext } from '../graphql/context';
import { localId, optionalLocalId } from '../graphql/ids';
import { loadRelated } from '../graphql/loaders';
import { AppError } from '../errors/app-error';
import type { ApiToken, User } from '../models';
import { apiTokenQuery, createUser, updateUser, userQuery } from '../services/user.service';
import { DateTime } from './common';
import { ownCompany } from '../domain/companies/company.service';
import { CompanyType, companyView } from './company';
import { Node } from './node';
import { StaffNode } from './staff';

export enum Role {
  SUPER_ADMIN = 'super_admin',
  ADMIN = 'admin',
  MANAGER = 'manager',
  STAFF = 'staff',
}
registerEnumType(Role, {
  name: 'Role',
  description: 'SUPER_ADMIN is a platform operator and cannot be granted inside a company.',
});

export enum ActorType {
  USER = 'user',
  API_TOKEN = 'api_token',
  PLATFORM_ADMIN = 'platform_admin',
}
registerEnumType(ActorType, { name: 'ActorType' });

@ObjectType('User', { implements: Node, description: 'A person who signs in to a company.' })
export class UserNode extends Node {
  @Field(() => EmailAddressResolver)
  email!: string;

  @Field()
  name!: string;

  @Field(() => [Role])
  roles!: Role[];

  @Field(() => DateTime, { nullable: true })
  lastLoginAt!: Date | null;

  @Field(() => DateTime)
  createdAt!: Date;
}

export const UserConnection = connectionOf(UserNode, 'User').Connection;

@ObjectType({ description: 'Who is asking: the signed-in user, API token or platform admin.' })
export class Viewer {
  @Field(() => ActorType)
  actorType!: ActorType;

  @Field(() => String, { nullable: true })
  name!: string | null;

  @Field(() => String, { nullable: true })
  email!: string | null;

  @Field(() => [Role])
  roles!: Role[];

  @Field(() => [String], { description: 'Scopes of an API token; empty for users.' })
  scopes!: string[];

  @Field(() => UserNode, { nullable: true })
  user!: User | null;

  @Field(() => CompanyType, { nullable: true, description: 'The company the request acts in.' })
  company!: CompanyType | null;
}

@ObjectType('ApiToken', {
  implements: Node,
  description: 'A personal API token for a partner integration.',
})
export class ApiTokenNode extends Node {
  @Field()
  name!: string;

  @Field({ description: 'The first characters of the token, to recognise it.' })
  tokenPrefix!: string;

  @Field(() => [String])
  scopes!: string[];

  @Field(() => DateTime, { nullable: true })
  expiresAt!: Date | null;

  @Field(() => DateTime, { nullable: true })
  revokedAt!: Date | null;

  @Field(() => DateTime, { nullable: true })
  lastUsedAt!: Date | null;

  @Field(() => DateTime)
  createdAt!: Date;
}

export const ApiTokenConnection = connectionOf(ApiTokenNode, 'ApiToken').Connection;

@ObjectType()
export class CreatedApiToken {
  @Field({ description: 'The token itself. It is shown only this once; store it safely.' })
  token!: string;

  @Field(() => ApiTokenNode)
  apiToken!: ApiToken;
}

@InputType()
class UserFilter {
  @Field(() => String, { nullable: true, description: 'Name or email contains this text.' })
  search?: string | null;

  @Field(() => Role, { nullable: true })
  role?: Role | null;
}

@InputType()
class CreateUserInput {
  @Field(() => EmailAddressResolver)
  email!: string;

  @Field()
  name!: string;

  @Field({ description: 'At least 12 characters.' })
  password!: string;

  @Field(() => [Role])
  roles!: Role[];

  @Field(() => ID, { nullable: true })
  staffId?: string | null;
}

@InputType()
class UpdateUserInput {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => [Role], { nullable: true, description: 'Nobody can change their own roles.' })
  roles?: Role[] | null;

  @Field(() => ID, { nullable: true })
  staffId?: string | null;

  @Field(() => Boolean, { nullable: true })
  disabled?: boolean | null;

  @Field(() => String, { nullable: true })
  password?: string | null;
}

@InputType()
class CreateApiTokenInput {
  @Field()
  name!: string;

  @Field(() => [String], { description: `Any of: ${SCOPES.join(', ')}.` })
  scopes!: string[];

  @Field(() => DateTime, {
    nullable: true,
    description: 'When the token stops working: at most a year ahead; 90 days when not given.',
  })
  expiresAt?: Date | null;

  @Field(() => Boolean, {
    nullable: true,
    description: 'A token without expiry; only admins may create one. Not with expiresAt.',
  })
  neverExpires?: boolean | null;
}

@Resolver(() => UserNode)
export class UserResolver {
  @Query(() => Viewer, { description: 'The signed-in caller.' })
  async me(@Ctx() { ctx }: GraphQLContext): Promise<Viewer> {
    const { actor } = ctx;
    // Read before the request's tenant transaction opens: the embedded database has one
    // connection, which that transaction holds until the request ends.
    const profile =
      actor.kind === 'platform_admin'
        ? (
            (await ctx.deps.db.platform.raw('select * from platform_admin_profile(?)', [
              actor.adminId,
            ])) as { rows: { name: string; email: string }[] }
          ).rows[0]
        : undefined;
    const company = companyView(await ownCompany(ctx));
    if (actor.kind === 'user') {
      const user = await loadRelated(ctx, 'User', actor.userId);
      return {
        actorType: ActorType.USER,
        name: user?.name ?? null,
        email: user?.email ?? null,
        roles: actor.roles as unknown as Role[],
        scopes: [],
        user,
        company,
      };
    }
    if (actor.kind === 'api_token') {
      const token = await loadRelated(ctx, 'ApiToken', actor.tokenId);
      return {
        actorType: ActorType.API_TOKEN,
        name: token?.name ?? null,
        email: null,
        roles: [],
        scopes: [...actor.scopes],
        user: null,
        company,
      };
    }
    if (actor.kind === 'platform_admin') {
      return {
        actorType: ActorType.PLATFORM_ADMIN,
        name: profile?.name ?? null,
        email: profile?.email ?? null,
        roles: [Role.SUPER_ADMIN],
        scopes: [],
        user: null,
        company,
      };
    }
    throw new AppError('UNAUTHENTICATED', 'Sign in first');
  }

  @Query(() => UserConnection, { description: 'Users of the company, by name.' })
  async users(
    @Args() page: PageArgs,
    @Arg('filter', () => UserFilter, { nullable: true }) filter: UserFilter | null,
    @Ctx() { ctx }: GraphQLContext,
  ) {
    const { query: q } = await userQuery(ctx, filter);
    return paginate(
      ctx,
      q,
      page,
      { key: 'name', column: 'users.name', direction: 'asc' },
      (r) => r.name,
    );
  }

  @Mutation(() => UserNode)
  async createUser(@Arg('input') input: CreateUserInput, @Ctx() { ctx }: GraphQLContext) {
    return createUser(ctx, {
      ...input,
      staffId: optionalLocalId(ctx, input.staffId, 'Staff', 'input.staffId'),
    });
  }

  @Mutation(() => UserNode)
  async updateUser(@Arg('input') input: UpdateUserInput, @Ctx() { ctx }: GraphQLContext) {
    const id = localId(ctx, input.id, 'User', 'input.id');
    const staffId = optionalLocalId(ctx, input.staffId, 'Staff', 'input.staffId');
    // One unit: a password reset or a disabled account never stands without its sessions revoked.
    return ctx.unitOfWork(() => updateUser(ctx, id, { ...input, staffId }));
  }

  @Query(() => ApiTokenConnection, { description: 'API tokens of the company, newest first.' })
  async apiTokens(@Args() page: PageArgs, @Ctx() { ctx }: GraphQLContext) {
    const { query: q } = await apiTokenQuery(ctx);
    return paginate(
      ctx,
      q,
      page,
      { key: 'created_at', column: 'api_tokens.created_at', direction: 'desc' },
      (r) => r.createdAt,
    );
  }

  @Mutation(() => CreatedApiToken, {
    description: 'Creates an API token; the token is shown once.',
  })
  async createApiToken(@Arg('input') input: CreateApiTokenInput, @Ctx() { ctx }: GraphQLContext) {
    const { token, row } = await ctx.unitOfWork(() => createApiToken(ctx, input));
    return { token, apiToken: row };
  }

  @Mutation(() => ApiTokenNode)
  async revokeApiToken(@Arg('id', () => ID) id: string, @Ctx() { ctx }: GraphQLContext) {
    return ctx.unitOfWork(() => revokeApiToken(ctx, localId(ctx, id, 'ApiToken', 'id')));
  }

  @FieldResolver(() => StaffNode, { nullable: true, description: 'The staff record of this user.' })
  async staff(@Root() user: User, @Ctx() { ctx }: GraphQLContext) {
    return loadRelated(ctx, 'Staff', user.staffId);
  }

  @FieldResolver(() => Boolean)
  disabled(@Root() user: User): boolean {
    return user.disabledAt !== null;
  }
}
