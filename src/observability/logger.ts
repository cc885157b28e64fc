import pino, { type DestinationStream, type Logger } from 'pino';
import { requestStorage } from './context';

/** Keys whose values are secrets wherever they appear: credentials, tokens, signatures, cookies. */
const SECRET_KEYS = [
  'password',
  'currentPassword',
  'newPassword',
  'passwordHash',
  'password_hash',
  'token',
  'accessToken',
  'refreshToken',
  'access_token',
  'refresh_token',
  'tokenHash',
  'token_hash',
  'apiKey',
  'api_key',
  'secret',
  'clientSecret',
  'client_secret',
  'webhookSecret',
  'signature',
  'authorization',
  'cookie',
];

/** HTTP headers that carry credentials or signatures. */
const SECRET_HEADERS = [
  'authorization',
  'cookie',
  '["set-cookie"]',
  '["x-api-key"]',
  '["x-retell-signature"]',
  '["x-cal-signature-256"]',
];

const header = (base: string, name: string) =>
  name.startsWith('[') ? `${base}${name}` : `${base}.${name}`;

/**
 * Paths never written to the log, whatever object they appear in: the secret keys at the top
 * level and one level down, request and response headers, and GraphQL variables.
 */
export const REDACT_PATHS = [
  ...SECRET_KEYS,
  ...SECRET_KEYS.map((key) => `*.${key}`),
  ...SECRET_HEADERS.flatMap((name) => [
    header('headers', name),
    header('req.headers', name),
    header('res.headers', name),
    header('request.headers', name),
    header('response.headers', name),
  ]),
  ...SECRET_KEYS.map((key) => `variables.input.${key}`),
  ...SECRET_KEYS.map((key) => `*.variables.input.${key}`),
  'variables.*.password',
];

/**
 * The server's logger: one JSON object a line, with the level as a word, an ISO timestamp, and the
 * request id and trace id of the request being served (when there is one) on every line, so a
 * request can be followed through the log. Pretty output is for a developer's terminal only.
 */
export function createLogger(
  level: string,
  pretty = false,
  destination?: DestinationStream,
): Logger {
  const options: pino.LoggerOptions = {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { service: 'tenant-voice-graphql' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    mixin: () => {
      const observation = requestStorage.getStore();
      return observation
        ? { requestId: observation.requestId, traceId: observation.trace.traceId }
        : {};
    },
    ...(pretty && !destination
      ? { transport: { target: 'pino-pretty', options: { colorize: true } } }
      : {}),
  };
  return destination ? pino(options, destination) : pino(options);
}
