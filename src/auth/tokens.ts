import { isUuid } from '../domain/ids';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { SignJWT, jwtVerify } from 'jose';
import type { UserRole } from '../domain/enums';

const ISSUER = 'tenant-voice-graphql';
const AUDIENCE = 'graphql';

export interface AccessClaims {
  sub: string;
  typ: 'user' | 'platform_admin';
  cid?: string;
  roles?: UserRole[];
  stf?: string | null;
  sid?: string;
  /** Issue time in milliseconds (iat has whole seconds), to compare with a sign-out time. */
  ims?: number;
  /** Issued-at in seconds, as read from a verified token (set by signing, never passed in). */
  iat?: number;
}

/** A short-lived HS256 access token. */
export async function signAccessToken(
  secret: Uint8Array,
  claims: AccessClaims,
  ttlSeconds: number,
): Promise<{ token: string; expiresAt: Date }> {
  const expiresAt = new Date(Date.now() + ttlSeconds * 1000);
  const { sub, iat: _iat, ...rest } = claims;
  const token = await new SignJWT({ ...rest })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(sub)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
    .sign(secret);
  return { token, expiresAt };
}

/** The claims of a valid access token, or null for anything else (bad signature, expired, ...). */
export async function verifyAccessToken(
  secret: Uint8Array,
  token: string,
): Promise<AccessClaims | null> {
  try {
    const { payload } = await jwtVerify(token, secret, {
      issuer: ISSUER,
      audience: AUDIENCE,
      algorithms: ['HS256'],
    });
    if (typeof payload.sub !== 'string') return null;
    if (payload.typ !== 'user' && payload.typ !== 'platform_admin') return null;
    if (payload.typ === 'user' && (typeof payload.cid !== 'string' || !isUuid(payload.cid))) {
      return null;
    }
    return payload as unknown as AccessClaims;
  } catch {
    return null;
  }
}

export const sha256 = (value: string): string => createHash('sha256').update(value).digest('hex');

export function safeEqualHex(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

const secret = () => randomBytes(32).toString('base64url');

/**
 * Refresh tokens: `rt_<companyId>_<sessionId>_<secret>`. The ids route the lookup to the right
 * tenant; only the secret's SHA-256 is stored.
 */
export function newRefreshToken(
  companyId: string,
  sessionId: string,
): { token: string; hash: string } {
  const s = secret();
  return { token: `rt_${companyId}_${sessionId}_${s}`, hash: sha256(s) };
}

export function parseRefreshToken(
  token: string,
): { companyId: string; sessionId: string; secretHash: string } | null {
  const m = /^rt_([0-9a-f-]{36})_([0-9a-f-]{36})_([A-Za-z0-9_-]{43})$/.exec(token);
  if (!m || !isUuid(m[1]) || !isUuid(m[2])) return null;
  return { companyId: m[1], sessionId: m[2], secretHash: sha256(m[3]) };
}

/**
 * Personal API tokens: `vat_<companyId without dashes>_<secret>`, shown once. The prefix lets a
 * leaked token be recognised (secret scanners) and routes the lookup to its company.
 */
export function newApiToken(companyId: string): { token: string; hash: string; prefix: string } {
  const token = `vat_${companyId.replace(/-/g, '')}_${secret()}`;
  return { token, hash: sha256(token), prefix: token.slice(0, 16) };
}

export function parseApiToken(token: string): { companyId: string; hash: string } | null {
  const m = /^vat_([0-9a-f]{32})_[A-Za-z0-9_-]{43}$/.exec(token);
  if (!m) return null;
  const h = m[1];
  const companyId = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  return { companyId, hash: sha256(token) };
}
