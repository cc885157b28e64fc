import { randomBytes } from 'node:crypto';
import { ConfigError, loadConfig } from '../../src/config';
import {
  credentialAad,
  openSecret,
  parseCredentialKeys,
  sealSecret,
} from '../../src/security/credential-crypto';

/** AES-256-GCM sealing of provider secrets, the key ring and its configuration. */
const key = () => randomBytes(32).toString('base64');
const problems = (env: NodeJS.ProcessEnv): string[] => {
  try {
    loadConfig(env);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
};

const aad = credentialAad(
  '11111111-1111-4111-8111-111111111111',
  '22222222-2222-4222-8222-222222222222',
);

test('a sealed secret holds no plaintext, opens again, and every seal differs (random IV)', () => {
  const { keyring } = parseCredentialKeys(`k1:${key()}`);
  const secret = 'whsec_super-secret-value-123456';
  const one = sealSecret(keyring!, secret, aad);
  const two = sealSecret(keyring!, secret, aad);
  expect(one.keyId).toBe('k1');
  expect(one.blob.includes(Buffer.from(secret))).toBe(false);
  expect(one.blob.toString('latin1')).not.toContain('super-secret');
  expect(one.blob.length).toBe(12 + Buffer.byteLength(secret) + 16);
  expect(one.blob.equals(two.blob)).toBe(false);
  expect(openSecret(keyring!, one, aad)).toBe(secret);
});

test('a tampered blob, another row or a wrong key does not open', () => {
  const { keyring } = parseCredentialKeys(`k1:${key()}`);
  const sealed = sealSecret(keyring!, 'the-secret-0123456789', aad);
  const flipped = Buffer.from(sealed.blob);
  flipped[14] ^= 1;
  expect(() => openSecret(keyring!, { ...sealed, blob: flipped }, aad)).toThrow(/does not open/);
  const otherRow = credentialAad(
    '11111111-1111-4111-8111-111111111111',
    '33333333-3333-4333-8333-333333333333',
  );
  expect(() => openSecret(keyring!, sealed, otherRow)).toThrow(/does not open/);
  const { keyring: impostor } = parseCredentialKeys(`k1:${key()}`);
  expect(() => openSecret(impostor!, sealed, aad)).toThrow(/does not open/);
});

test('key rotation: rows sealed with the old key still open once a new key is current', () => {
  const oldKey = key();
  const before = parseCredentialKeys(`k1:${oldKey}`).keyring!;
  const sealedOld = sealSecret(before, 'sealed-under-k1-0123456789', aad);
  const after = parseCredentialKeys(`k2:${key()},k1:${oldKey}`).keyring!;
  expect(after.currentKeyId).toBe('k2');
  expect(openSecret(after, sealedOld, aad)).toBe('sealed-under-k1-0123456789');
  expect(sealSecret(after, 'new', aad).keyId).toBe('k2');
  // With the old key dropped from the list, the old row no longer opens (and says which key).
  const dropped = parseCredentialKeys(`k2:${key()}`).keyring!;
  expect(() => openSecret(dropped, sealedOld, aad)).toThrow(/"k1" is not configured/);
});

test('CREDENTIAL_ENCRYPTION_KEYS is validated without echoing key material', () => {
  const short = Buffer.alloc(16, 1).toString('base64');
  const list = parseCredentialKeys(
    `k1:${short},bad id:${key()},k1:${key()},k2:not*base64`,
  ).problems;
  expect(list).toEqual([
    'CREDENTIAL_ENCRYPTION_KEYS key "k1" must be 32 bytes, base64-encoded',
    'CREDENTIAL_ENCRYPTION_KEYS entry 2: key id must be 1 to 32 of A-Z a-z 0-9 _ -',
    'CREDENTIAL_ENCRYPTION_KEYS key "k2" must be 32 bytes, base64-encoded',
  ]);
  expect(list.join('\n')).not.toContain(short);
  const dup = key();
  expect(parseCredentialKeys(`a:${dup},a:${dup}`).problems).toEqual([
    'CREDENTIAL_ENCRYPTION_KEYS lists key id "a" twice',
  ]);
});

test('configuration: a development key outside production, required in production', () => {
  expect(loadConfig({ NODE_ENV: 'development' }).credentialKeys.currentKeyId).toBe('dev');
  const prod = {
    NODE_ENV: 'production',
    DATABASE_URL: 'postgres://app@db/app',
    DATABASE_RUNTIME_URL: 'postgres://app_runtime@db/app',
    DATABASE_PLATFORM_URL: 'postgres://app_platform_client@db/app',
    JWT_SECRET: 'x'.repeat(40),
    METRICS_TOKEN: 'metrics-secret',
  };
  expect(problems(prod).join('\n')).toMatch(/CREDENTIAL_ENCRYPTION_KEYS is required in production/);
  const devKey = 'ZGV2ZWxvcG1lbnQtb25seS1jcmVkZW50aWFsLWtleSE=';
  expect(problems({ ...prod, CREDENTIAL_ENCRYPTION_KEYS: `prod:${devKey}` }).join('\n')).toMatch(
    /must not contain the development key/,
  );
  expect(problems({ ...prod, CREDENTIAL_ENCRYPTION_KEYS: 'prod:short' }).join('\n')).toMatch(
    /CREDENTIAL_ENCRYPTION_KEYS key "prod" must be 32 bytes/,
  );
  const ok = loadConfig({ ...prod, CREDENTIAL_ENCRYPTION_KEYS: `p2:${key()},p1:${key()}` });
  expect(ok.credentialKeys.currentKeyId).toBe('p2');
  expect([...ok.credentialKeys.keys.keys()]).toEqual(['p2', 'p1']);
});

test('the shared CALCOM_WEBHOOK_SECRETS is refused with directions', () => {
  expect(problems({ NODE_ENV: 'development', CALCOM_WEBHOOK_SECRETS: 'abc' }).join('\n')).toMatch(
    /CALCOM_WEBHOOK_SECRETS is no longer supported.*createProviderCredential/,
  );
});
