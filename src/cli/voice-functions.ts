import { functionDefinitions, inboundWebhookUrl } from '../voice/definitions';

/**
 * Prints the Retell custom-function definitions of the voice agent, to paste into the agent's
 * settings: `npm run voice:functions -- https://api.example.com [<retell credential id>]`.
 */
const [baseUrl, endpointId] = process.argv.slice(2);
if (!baseUrl || !/^https?:\/\//.test(baseUrl)) {
  console.error('usage: npm run voice:functions -- <public base URL> [<retell credential id>]');
  process.exit(2);
}
if (endpointId && !/^[0-9a-f-]{36}$/i.test(endpointId)) {
  console.error('the second argument must be the id of a Retell provider credential');
  process.exit(2);
}
console.log(
  JSON.stringify(
    {
      inbound_webhook_url: inboundWebhookUrl(baseUrl, endpointId ?? null),
      functions: functionDefinitions(baseUrl, endpointId ?? null),
    },
    null,
    2,
  ),
);
