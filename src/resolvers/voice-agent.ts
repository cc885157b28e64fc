import { Arg, Ctx, Field, Mutation, ObjectType, Resolver } from 'type-graphql';
import type { GraphQLContext } from '../graphql/context';
import { clearVoiceSecret, rotateVoiceSecret, setVoiceLanguage } from '../voice/secret';
import { DateTime } from './common';

/**
 * The company's voice-agent settings (admins): the bearer secret Retell sends with every function
 * call (shown once, stored hashed) and the language the agent speaks.
 */
@ObjectType('VoiceAgentSecret', { description: 'A new voice-agent secret, shown only here.' })
export class VoiceAgentSecretNode {
  @Field({ description: 'Send as the header x-voice-agent-secret from every Retell function.' })
  secret!: string;

  @Field(() => DateTime, {
    nullable: true,
    description: 'Until when the previous secret still works (null: it stopped at once).',
  })
  previousValidUntil!: Date | null;
}

@Resolver()
export class VoiceAgentResolver {
  @Mutation(() => VoiceAgentSecretNode, {
    description:
      'Creates or replaces the voice-agent bearer secret; the previous one keeps working until previousValidUntil (default 24 hours, at most 30 days). Audited.',
  })
  async rotateVoiceAgentSecret(
    @Arg('previousValidUntil', () => DateTime, { nullable: true }) previousValidUntil: Date | null,
    @Ctx() { ctx }: GraphQLContext,
  ) {
    return rotateVoiceSecret(ctx, { previousValidUntil });
  }

  @Mutation(() => Boolean, {
    description: 'Removes the voice-agent bearer secret; true when there was one. Audited.',
  })
  async clearVoiceAgentSecret(@Ctx() { ctx }: GraphQLContext) {
    return clearVoiceSecret(ctx);
  }

  @Mutation(() => String, { description: 'Sets the language the voice agent speaks: de or en.' })
  async setVoiceAgentLanguage(@Arg('language') language: string, @Ctx() { ctx }: GraphQLContext) {
    return setVoiceLanguage(ctx, language);
  }
}
