import { Arg, Ctx, Field, InputType, Int, Mutation, ObjectType, Resolver } from 'type-graphql';
import type { GraphQLContextValue } from '../graphql/context';
import { AppError } from '../errors/app-error';
import { requiredText } from '../domain/text';
import { DateTime } from './common';

/** Longer input is refused before any hashing; real passwords are at most 256 characters. */
const MAX_PASSWORD_INPUT = 1024;

@ObjectType({ description: 'Tokens from a sign-in or refresh.' })
export class AuthPayload {
  @Field({ description: 'Short-lived JWT for `Authorization: Bearer <accessToken>`.' })
  accessToken!: string;

  @Field(() => DateTime)
  accessTokenExpiresAt!: Date;

  @Field(() => String, {
    nullable: true,
    description: 'Exchange it once with `refreshToken` for a new pair; null for platform admins.',
  })
  refreshToken!: string | null;

  @Field(() => DateTime, { nullable: true })
  refreshTokenExpiresAt!: Date | null;
}

@InputType()
class LoginInput {
  @Field()
  email!: string;

  @Field()
  password!: string;

  @Field(() => String, {
    nullable: true,
    description:
      'Company slug, needed only when the email belongs to accounts in several companies.',
  })
  companySlug?: string | null;
}

@InputType()
class ChangePasswordInput {
  @Field()
  currentPassword!: string;

  @Field({ description: '12 to 256 characters.' })
  newPassword!: string;
}

@ObjectType({ description: 'The result of a password change.' })
export class PasswordChange {
  @Field(() => Int, { description: 'How many other sessions of the user were signed out.' })
  revokedSessions!: number;
}

@Resolver()
export class AuthResolver {
  @Mutation(() => AuthPayload, { description: 'Signs in with email and password.' })
  async login(@Arg('input') input: LoginInput, @Ctx() { ctx, auth }: GraphQLContextValue) {
    if (input.password.length > MAX_PASSWORD_INPUT) {
      throw new AppError('BAD_USER_INPUT', 'input.password is too long', {
        field: 'input.password',
      });
    }
    return auth.login(
      {
        email: requiredText(input.email, 'input.email', 320),
        password: input.password,
        companySlug: input.companySlug,
      },
      { ip: ctx.ip, requestId: ctx.requestId },
    );
  }

  @Mutation(() => AuthPayload, {
    description: 'Exchanges a refresh token (usable once) for a new token pair.',
  })
  async refreshToken(
    @Arg('refreshToken') refreshToken: string,
    @Ctx() { ctx, auth }: GraphQLContextValue,
  ) {
    return auth.refresh(refreshToken, { ip: ctx.ip });
  }

  @Mutation(() => Boolean, {
    description:
      'Signs out: revokes the session of the given refresh token, or of the current access token.',
  })
  async logout(
    @Arg('refreshToken', () => String, { nullable: true }) refreshToken: string | null,
    @Ctx() { ctx, auth }: GraphQLContextValue,
  ) {
    return auth.logout(ctx, refreshToken);
  }

  @Mutation(() => PasswordChange, {
    description:
      'Changes your own password; needs the current one. Signs out every other session of yours.',
  })
  async changePassword(
    @Arg('input') input: ChangePasswordInput,
    @Ctx() { ctx, auth }: GraphQLContextValue,
  ): Promise<PasswordChange> {
    if (input.currentPassword.length > MAX_PASSWORD_INPUT) {
      throw new AppError('BAD_USER_INPUT', 'The current password is wrong', {
        field: 'input.currentPassword',
      });
    }
    return auth.changePassword(ctx, input);
  }
}
