import { randomBytes, randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { actorLabel } from '../context/actor';
import type { RequestContext } from '../context/request-context';
import { AppError, badInput } from '../errors/app-error';
import { ProviderCredential } from '../models';
import {
  credentialAad,
  openSecret,
  sealSecret,
  type CredentialKeyring,
} from '../security/credential-crypto';
import type { WebhookProvider } from './envelope';

/**
 * Per-company provider credentials: a Cal.com webhook secret or a Retell API key, registered for
 * one company with its own endpoint `/api/webhooks/<provider>/<credential id>`. A delivery to that
 * endpoint is verified with this credential only (the current secret, plus the previous one until
 * the end of a rotation's overlap) and is bound to the credential's company.
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_OVERLAP_MS = 30 * 24 * 3600_000;
const DEFAULT_OVERLAP_MS = 24 * 3600_000;

export function endpointPath(provider: WebhookProvider, credentialId: string): string {
  return `/api/webhooks/${provider}/${credentialId}`;
}

export type EndpointLookup =
  | { ok: true; credentialId: string; companyId: string; secrets: string[] }
  | { ok: false; reason: 'unknown_credential' | 'revoked' | 'unconfigured' };

interface CredentialRow {
  company_id: string;
  provider: WebhookProvider;
  secret_key_id: string;
  secret_ciphertext: Buffer;
  previous_secret_key_id: string | null;
  previous_secret_ciphertext: Buffer | null;
  previous_valid_until: Date | null;
  revoked_at: Date | null;
}

/**
 * The credential behind a webhook endpoint id, with the secrets that verify deliveries now. An
 * unknown id, a credential of another provider and a revoked one all refuse the delivery.
 */
export async function lookupEndpointCredential(
  knex: Knex,
  keyring: CredentialKeyring,
  logger: Logger,
  provider: WebhookProvider,
  endpointId: string,
  nowMs: number,
): Promise<EndpointLookup> {
  if (!UUID.test(endpointId)) return { ok: false, reason: 'unknown_credential' };
  const { rows } = await knex.raw<{ rows: CredentialRow[] }>(
    'select * from platform_provider_credential(?)',
    [endpointId],
  );
  if (rows.length !== 1 || rows[0].provider !== provider) {
    return { ok: false, reason: 'unknown_credential' };
  }
  const row = rows[0];
  if (row.revoked_at && row.revoked_at.getTime() <= nowMs) return { ok: false, reason: 'revoked' };
  const aad = credentialAad(row.company_id, endpointId);
  const secrets: string[] = [];
  try {
    secrets.push(
      openSecret(keyring, { keyId: row.secret_key_id, blob: row.secret_ciphertext }, aad),
    );
  } catch (err) {
    // A key removed from CREDENTIAL_ENCRYPTION_KEYS too early, or an altered row: fail closed.
    logger.error(
      { credentialId: endpointId, err: (err as Error).message },
      'provider credential cannot be opened; its deliveries are refused',
    );
    return { ok: false, reason: 'unconfigured' };
  }
  if (
    row.previous_secret_key_id &&
    row.previous_secret_ciphertext &&
    row.previous_valid_until &&
    row.previous_valid_until.getTime() > nowMs
  ) {
    try {
      secrets.push(
        openSecret(
          keyring,
          { keyId: row.previous_secret_key_id, blob: row.previous_secret_ciphertext },
          aad,
        ),
      );
    } catch (err) {
      // Only the rotation overlap is lost; the current secret still verifies.
      logger.error(
        { credentialId: endpointId, err: (err as Error).message },
        'previous secret of a provider credential cannot be opened; ignored',
      );
    }
  }
  return { ok: true, credentialId: endpointId, companyId: row.company_id, secrets };
}

/** Records that a credential verified a delivery (at most once a minute). */
export async function markCredentialUsed(
  knex: Knex,
  credentialId: string,
  companyId: string,
): Promise<void> {
  await knex.raw('select provider_credential_used(?, ?)', [credentialId, companyId]);
}

function checkSecret(secret: string | null | undefined, field: string): string | null {
  if (secret === undefined || secret === null) return null;
  if (secret.length < 16 || secret.length > 512) {
    throw badInput(field, `${field} must be 16 to 512 characters`);
  }
  if (!/^[\x21-\x7e]+$/.test(secret)) {
    throw badInput(field, `${field} must be printable ASCII without spaces`);
  }
  if (secret === 'no-secret-provided') throw badInput(field, `${field} is not a secret`);
  return secret;
}

function checkLabel(label: string): string {
  const trimmed = label.trim();
  if (trimmed.length < 1 || trimmed.length > 100) {
    throw badInput('input.label', 'input.label must be 1 to 100 characters');
  }
  return trimmed;
}

function checkProvider(provider: string): WebhookProvider {
  if (provider !== 'calcom' && provider !== 'retell') {
    throw badInput('input.provider', 'input.provider must be calcom or retell');
  }
  return provider;
}

function newSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

/**
 * The company's provider credentials, for paging (the tenant query and RLS bind the company).
 * Wrapped in an object: a query builder is thenable, so returning it bare would run it.
 */
export async function providerCredentialsQuery(ctx: RequestContext) {
  return { query: ProviderCredential.query(await ctx.trx()) };
}

/**
 * Registers a credential for the caller's company. Cal.com: the server generates the webhook
 * secret unless the admin pastes the one already set in Cal.com. Retell: the admin pastes the API
 * key that signs the account's webhooks. The secret is returned here only.
 */
export async function createProviderCredential(
  ctx: RequestContext,
  input: { provider: string; label: string; secret?: string | null },
): Promise<{ secret: string; row: ProviderCredential }> {
  const provider = checkProvider(input.provider);
  const label = checkLabel(input.label);
  let secret = checkSecret(input.secret, 'input.secret');
  if (!secret) {
    if (provider === 'retell') {
      throw badInput('input.secret', 'input.secret is required: paste the Retell API key');
    }
    secret = newSecret();
  }
  const companyId = ctx.requireCompanyId();
  const id = randomUUID();
  const sealed = sealSecret(ctx.deps.config.credentialKeys, secret, credentialAad(companyId, id));
  return ctx.unitOfWork(async (trx) => {
    const row = await ProviderCredential.query(trx)
      .insert({
        id,
        provider,
        label,
        secretKeyId: sealed.keyId,
        secretCiphertext: sealed.blob,
        createdBy: actorLabel(ctx.actor),
      })
      .returning('*');
    await ctx.audit({
      action: 'provider_credential.create',
      subjectType: 'ProviderCredential',
      subjectId: id,
      details: { provider, label, generated: input.secret ? false : true },
    });
    return { secret, row: row as unknown as ProviderCredential };
  });
}

async function loadForChange(trx: Knex.Transaction, id: string): Promise<ProviderCredential> {
  const row = await ProviderCredential.query(trx).findById(id).forUpdate();
  if (!row) throw new AppError('NOT_FOUND', 'Provider credential not found', { field: 'id' });
  return row;
}

/**
 * Replaces the secret. The previous one keeps verifying until `previousValidUntil` (default 24
 * hours, at most 30 days; a time not in the future ends it at once), so the provider's settings
 * can be changed without losing deliveries. A second rotation drops the oldest secret.
 */
export async function rotateProviderCredential(
  ctx: RequestContext,
  id: string,
  input: { secret?: string | null; previousValidUntil?: Date | null },
): Promise<{ secret: string; row: ProviderCredential }> {
  const now = Date.now();
  const until = input.previousValidUntil ?? new Date(now + DEFAULT_OVERLAP_MS);
  if (Number.isNaN(until.getTime()) || until.getTime() > now + MAX_OVERLAP_MS) {
    throw badInput('input.previousValidUntil', 'input.previousValidUntil must be within 30 days');
  }
  const companyId = ctx.requireCompanyId();
  return ctx.unitOfWork(async (trx) => {
    const current = await loadForChange(trx, id);
    if (current.revokedAt) {
      throw new AppError('CONFLICT', 'A revoked credential cannot be rotated', { field: 'id' });
    }
    let secret = checkSecret(input.secret, 'input.secret');
    if (!secret) {
      if (current.provider === 'retell') {
        throw badInput('input.secret', 'input.secret is required: paste the new Retell API key');
      }
      secret = newSecret();
    }
    const sealed = sealSecret(ctx.deps.config.credentialKeys, secret, credentialAad(companyId, id));
    const overlap = until.getTime() > now;
    const [row] = (await ProviderCredential.query(trx)
      .patch({
        secretKeyId: sealed.keyId,
        secretCiphertext: sealed.blob,
        previousSecretKeyId: overlap ? current.secretKeyId : null,
        previousSecretCiphertext: overlap ? current.secretCiphertext : null,
        previousValidUntil: overlap ? until : null,
        rotatedAt: new Date(now),
      })
      .where('provider_credentials.id', id)
      .returning('*')) as unknown as ProviderCredential[];
    await ctx.audit({
      action: 'provider_credential.rotate',
      subjectType: 'ProviderCredential',
      subjectId: id,
      details: {
        provider: current.provider,
        label: current.label,
        previousValidUntil: overlap ? until.toISOString() : null,
      },
    });
    return { secret, row };
  });
}

/** Revokes a credential: its endpoint refuses every delivery from now on (401). */
export async function revokeProviderCredential(
  ctx: RequestContext,
  id: string,
): Promise<ProviderCredential> {
  return ctx.unitOfWork(async (trx) => {
    const current = await loadForChange(trx, id);
    if (current.revokedAt) return current;
    const [row] = (await ProviderCredential.query(trx)
      .patch({
        revokedAt: new Date(),
        previousSecretKeyId: null,
        previousSecretCiphertext: null,
        previousValidUntil: null,
      })
      .where('provider_credentials.id', id)
      .returning('*')) as unknown as ProviderCredential[];
    await ctx.audit({
      action: 'provider_credential.revoke',
      subjectType: 'ProviderCredential',
      subjectId: id,
      details: { provider: current.provider, label: current.label },
    });
    return row;
  });
}
