import pino, { type DestinationStream, type Logger } from 'pino';
import { requestStorage } from './context';

/**
 * Keys whose values are secrets wherever they appear, at any depth and in any letter case:
 * credentials, tokens, signatures, cookies, and the HTTP headers that carry them.
 */
export const SECRET_KEYS = [
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
  'set-cookie',
  'x-api-key',
  'x-retell-signature',
  'x-cal-signature-256',
];

/** Headers that carry credentials or signatures. */
const SECRET_HEADERS = [
  'authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'x-retell-signature',
  'x-cal-signature-256',
];

/** A redaction path for `key` under `base`, bracket-quoted when the key is not an identifier. */
function pathOf(base: string, key: string): string {
  if (/^[A-Za-z_$][\w$]*$/.test(key)) return base ? `${base}.${key}` : key;
  return `${base}["${key}"]`;
}

/**
 * Paths pino itself redacts, a second layer over SECRET_KEYS that also covers child logger
 * bindings and objects that are not plain: every secret key at the top level, and the headers and
 * GraphQL variables where secrets usually sit. Explicit paths only: pino's wildcard paths
 * (`*.password`) cost about 5 µs each on every log line, which for a list this long was more than
 * the rest of a request's observability together.
 */
export const REDACT_PATHS = [
  ...SECRET_KEYS.map((key) => pathOf('', key)),
  ...['req.headers', 'res.headers', 'headers'].flatMap((base) =>
    SECRET_HEADERS.map((header) => pathOf(base, header)),
  ),
  'variables.password',
  'variables.input.password',
];

const CENSOR = '[redacted]';
const SECRET_KEY_SET = new Set(SECRET_KEYS.map((key) => key.toLowerCase()));
const MAX_REDACT_DEPTH = 8;

/**
 * A copy of `value` with every SECRET_KEYS value replaced, at any depth of plain objects and
 * arrays. Objects without secrets are returned as they are (nothing is copied or changed for the
 * common log line); class instances such as errors are left to pino's serializers.
 */
export function redactSecrets<T>(value: T, depth = 0): T {
  if (depth > MAX_REDACT_DEPTH || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      const redacted = redactSecrets(item, depth + 1);
      if (redacted !== item) {
        copy ??= value.slice();
        copy[i] = redacted;
      }
    }
    return (copy ?? value) as T;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const record = value as Record<string, unknown>;
  let copy: Record<string, unknown> | undefined;
  for (const key of Object.keys(record)) {
    const item = record[key];
    const redacted = SECRET_KEY_SET.has(key.toLowerCase())
      ? item === undefined
        ? item
        : CENSOR
      : redactSecrets(item, depth + 1);
    if (redacted !== item) {
      copy ??= { ...record };
      copy[key] = redacted;
    }
  }
  return (copy ?? value) as T;
}

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
    redact: { paths: REDACT_PATHS, censor: CENSOR },
    base: { service: 'tenant-voice-graphql' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: {
      level: (label) => ({ level: label }),
      log: (object) => redactSecrets(object),
    },
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
