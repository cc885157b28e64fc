import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Signature checks for inbound webhooks, always over the raw request bytes: re-serialised JSON
 * differs from what the provider signed (key order, spacing, escapes), so it must never be used.
 */

export type SignatureFailure =
  /** No signature header, or Cal.com's `no-secret-provided` (a webhook configured without a secret). */
  | 'missing'
  /** A header that is not in the provider's format. */
  | 'malformed'
  /** Well-formed, but no active secret produces it: forged, tampered or signed with another key. */
  | 'mismatch'
  /** Retell timestamp more than the window in the past. */
  | 'stale'
  /** Retell timestamp more than the window in the future. */
  | 'future'
  /** No secret configured for the provider (or a stored one cannot be opened), so nothing can be verified. */
  | 'unconfigured'
  /** A company endpoint id that names no credential of this provider. */
  | 'unknown_credential'
  /** A company endpoint whose credential was revoked. */
  | 'revoked'
  /** The shared Cal.com URL without an endpoint id: no company credential to verify with. */
  | 'no_endpoint';

export type SignatureVerdict = { ok: true } | { ok: false; reason: SignatureFailure };

/** Retell accepts a signature for five minutes either side of its timestamp. */
export const RETELL_WINDOW_MS = 5 * 60 * 1000;

const RETELL_HEADER = /^v=(\d+),d=([0-9a-f]+)$/i;
const HEX_SHA256 = /^[0-9a-f]{64}$/i;
/** What Cal.com sends in the signature header when its webhook has no secret. */
export const CALCOM_UNSIGNED = 'no-secret-provided';

function hmacSha256(key: string, ...parts: Buffer[]): Buffer {
  const mac = createHmac('sha256', key);
  for (const part of parts) mac.update(part);
  return mac.digest();
}

/**
 * Compares the presented digest with each secret's digest in constant time. Every secret is
 * tried (no early exit), so the timing does not tell which key of a rotation matched.
 */
function matchesAny(presented: Buffer, secrets: readonly string[], parts: Buffer[]): boolean {
  let matched = false;
  for (const secret of secrets) {
    const expected = hmacSha256(secret, ...parts);
    if (expected.length === presented.length && timingSafeEqual(expected, presented))
      matched = true;
  }
  return matched;
}

/**
 * Retell: `x-retell-signature: v=<unix ms>,d=<hex HMAC-SHA256(api key, raw body + timestamp digits)>`.
 * The time window is checked before the digest, so a replayed old delivery is refused as stale.
 */
export function verifyRetellSignature(
  rawBody: Buffer,
  header: string | undefined,
  apiKeys: readonly string[],
  nowMs: number = Date.now(),
): SignatureVerdict {
  if (header === undefined || header.trim() === '') return { ok: false, reason: 'missing' };
  const match = RETELL_HEADER.exec(header.trim());
  if (!match) return { ok: false, reason: 'malformed' };
  const [, timestamp, digest] = match;
  if (!HEX_SHA256.test(digest) || timestamp.length > 16) return { ok: false, reason: 'malformed' };
  const signedAt = Number(timestamp);
  if (signedAt < nowMs - RETELL_WINDOW_MS) return { ok: false, reason: 'stale' };
  if (signedAt > nowMs + RETELL_WINDOW_MS) return { ok: false, reason: 'future' };
  if (apiKeys.length === 0) return { ok: false, reason: 'unconfigured' };
  const presented = Buffer.from(digest, 'hex');
  return matchesAny(presented, apiKeys, [rawBody, Buffer.from(timestamp, 'utf8')])
    ? { ok: true }
    : { ok: false, reason: 'mismatch' };
}

/** Cal.com: `X-Cal-Signature-256: <lowercase hex HMAC-SHA256(secret, raw body)>`, no prefix. */
export function verifyCalcomSignature(
  rawBody: Buffer,
  header: string | undefined,
  secrets: readonly string[],
): SignatureVerdict {
  const value = header?.trim();
  if (!value || value === CALCOM_UNSIGNED) return { ok: false, reason: 'missing' };
  if (!HEX_SHA256.test(value)) return { ok: false, reason: 'malformed' };
  if (secrets.length === 0) return { ok: false, reason: 'unconfigured' };
  return matchesAny(Buffer.from(value, 'hex'), secrets, [rawBody])
    ? { ok: true }
    : { ok: false, reason: 'mismatch' };
}

/** The header value Retell would send for this body; for tests and local tooling. */
export function signRetell(rawBody: string | Buffer, apiKey: string, timestampMs: number): string {
  const ts = String(Math.trunc(timestampMs));
  const body = typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody;
  return `v=${ts},d=${hmacSha256(apiKey, body, Buffer.from(ts, 'utf8')).toString('hex')}`;
}

/** The header value Cal.com would send for this body; for tests and local tooling. */
export function signCalcom(rawBody: string | Buffer, secret: string): string {
  const body = typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody;
  return hmacSha256(secret, body).toString('hex');
}
