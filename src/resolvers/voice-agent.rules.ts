import type { IRuleTypeMap } from 'graphql-shield/typings/types';
import { allowFields, write } from '../graphql/shield-rules';

/**
 * Who may use these fields: the voice agent's settings (bearer secret, language), for company
 * admins. Registered in ./permissions.ts.
 */
export const voiceAgentRules: IRuleTypeMap = {
  Mutation: {
    rotateVoiceAgentSecret: write('webhooks'),
    clearVoiceAgentSecret: write('webhooks'),
    setVoiceAgentLanguage: write('webhooks'),
  },
  VoiceAgentSecret: allowFields(['secret', 'previousValidUntil']),
};
