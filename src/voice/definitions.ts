import { VOICE_FUNCTIONS } from './functions';

/**
 * Retell custom-function definitions for every voice function, to paste into the agent's
 * settings: name, description, JSON-schema parameters and the URL to call. With a company's
 * Retell credential id, the URLs are that company's own endpoints.
 */
export interface RetellFunctionDefinition {
  type: 'custom';
  name: string;
  description: string;
  url: string;
  method: 'POST';
  parameters: Record<string, unknown>;
  speak_during_execution: boolean;
  speak_after_execution: boolean;
  timeout_ms: number;
}

export function functionDefinitions(
  baseUrl: string,
  endpointId: string | null = null,
): RetellFunctionDefinition[] {
  const prefix = endpointId ? `/api/retell/${endpointId}` : '/api/retell';
  return VOICE_FUNCTIONS.map((fn) => ({
    type: 'custom',
    name: fn.name,
    description: fn.description,
    url: `${baseUrl.replace(/\/$/, '')}${prefix}/functions/${fn.name}`,
    method: 'POST',
    parameters: fn.parameters,
    speak_during_execution: fn.name !== 'list_services',
    speak_after_execution: true,
    timeout_ms: 10_000,
  }));
}

export function inboundWebhookUrl(baseUrl: string, endpointId: string | null = null): string {
  const prefix = endpointId ? `/api/retell/${endpointId}` : '/api/retell';
  return `${baseUrl.replace(/\/$/, '')}${prefix}/inbound`;
}
