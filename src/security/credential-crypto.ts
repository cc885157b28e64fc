import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Encryption at rest for provider secrets that must be kept in the clear for HMAC checks (Cal.com
 * webhook secrets, Retell API keys): AES-256-GCM with a random 12-byte IV and a 16-byte auth tag.
 * The stored blob is `iv || ciphertext || tag`; the id of the key that sealed it is stored beside
 * it, so keys can be rotated: new rows use the first key of CREDENTIAL_ENCRYPTION_KEYS, old rows
 * still open with whichever listed key sealed them. The associated data binds a blob to its row
 * (company and credential id): copied onto another row it no longer opens.
 */

export interface CredentialKeyring {
  /** Id of the key new secrets are sealed with. */
  currentKeyId: string;
  /** Every usable key by id (32 bytes each). */
  keys: ReadonlyMap<string, Buffer>;
}

export interface SealedSecret {
  keyId: string;
  blob: Buffer;
}

const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

/** A fixed key for development and tests only; loadConfig refuses to use it in production. */
export const DEVELOPMENT_CREDENTIAL_KEYS = 'dev:ZGV2ZWxvcG1lbnQtb25seS1jcmVkZW50aWFsLWtleSE=';

/**
 * Parses `kid:base64key,kid2:base64key2` (first = current). Returns the problems instead of
 * throwing, so configuration can report every bad variable at once. Never echoes key material.
 */
export function parseCredentialKeys(
  raw: string,
  variable = 'CREDENTIAL_ENCRYPTION_KEYS',
): { keyring?: CredentialKeyring; problems: string[] } {
  const problems: string[] = [];
  const keys = new Map<string, Buffer>();
  let currentKeyId: string | undefined;
  const entries = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (entries.length === 0)
    problems.push(`${variable} must list at least one key as kid:base64key`);
  entries.forEach((entry, i) => {
    const colon = entry.indexOf(':');
    const kid = colon > 0 ? entry.slice(0, colon) : '';
    const material = colon > 0 ? entry.slice(colon + 1) : '';
    if (!KEY_ID.test(kid)) {
      problems.push(`${variable} entry ${i + 1}: key id must be 1 to 32 of A-Z a-z 0-9 _ -`);
      return;
    }
    const key = /^[A-Za-z0-9+/_-]+={0,2}$/.test(material)
      ? Buffer.from(material, 'base64')
      : Buffer.alloc(0);
    if (key.length !== 32) {
      problems.push(`${variable} key "${kid}" must be 32 bytes, base64-encoded`);
      return;
    }
    if (keys.has(kid)) {
      problems.push(`${variable} lists key id "${kid}" twice`);
      return;
    }
    keys.set(kid, key);
    currentKeyId ??= kid;
  });
  if (problems.length > 0 || !currentKeyId) return { problems };
  return { keyring: { currentKeyId, keys }, problems };
}

/** The associated data of a credential row: a blob opens only on the row it was sealed for. */
export function credentialAad(companyId: string, credentialId: string): Buffer {
  return Buffer.from(`provider_credential:${companyId}:${credentialId}`, 'utf8');
}

/** Seals a secret with the current key. */
export function sealSecret(
  keyring: CredentialKeyring,
  plaintext: string,
  aad: Buffer,
): SealedSecret {
  const key = keyring.keys.get(keyring.currentKeyId);
  if (!key) throw new Error('the current credential key is missing from the keyring');
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return { keyId: keyring.currentKeyId, blob: Buffer.concat([iv, body, cipher.getAuthTag()]) };
}

export class CredentialDecryptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CredentialDecryptError';
  }
}

/** Opens a sealed secret with the key it names; throws when the key is gone or the blob altered. */
export function openSecret(keyring: CredentialKeyring, sealed: SealedSecret, aad: Buffer): string {
  const key = keyring.keys.get(sealed.keyId);
  if (!key) throw new CredentialDecryptError(`credential key "${sealed.keyId}" is not configured`);
  if (sealed.blob.length < IV_BYTES + TAG_BYTES) {
    throw new CredentialDecryptError('sealed secret is too short');
  }
  const iv = sealed.blob.subarray(0, IV_BYTES);
  const tag = sealed.blob.subarray(sealed.blob.length - TAG_BYTES);
  const body = sealed.blob.subarray(IV_BYTES, sealed.blob.length - TAG_BYTES);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
  } catch {
    throw new CredentialDecryptError('sealed secret does not open (altered, or another row)');
  }
}
