export { createVoiceRouter, VOICE_ACTOR, type VoiceRouterOptions } from './router';
export { functionDefinitions, inboundWebhookUrl } from './definitions';
export { rotateVoiceSecret, SECRET_HEADER } from './secret';
export { createCallLimiter, type CallLimiter } from './limits';
