import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { RequestContext } from '../context/request-context';
import { badInput } from '../errors/app-error';

/**
 * The optional per-company bearer secret of the voice agent, sent by Retell as a custom header
 * (`x-voice-agent-secret`, or `Authorization: Bearer …`) with every function call. Only its
 * SHA-256 is stored: the secret is 32 random bytes, so a plain hash is enough. A rotation keeps the
 * previous secret valid for an overlap (default 24 hours) while the agent's settings are changed.
 */
export const SECRET_HEADER = 'x-voice-agent-secret';

const DEFAULT_OVERLAP_MS = 24 * 3600_000;
const MAX_OVERLAP_MS = 30 * 24 * 3600_000;

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}

export interface VoiceSettingsRow {
  language: string | null;
  secret_hash: string | null;
  previous_secret_hash: string | null;
  previous_valid_until: Date | null;
}

/** Whether the presented secret is accepted: always when the company set none. */
export function secretAccepted(
  settings: VoiceSettingsRow | null,
  presented: string | undefined,
  nowMs: number,
): boolean {
  if (!settings?.secret_hash) return true;
  if (!presented) return false;
  const hash = hashSecret(presented);
  let ok = same(hash, settings.secret_hash);
  if (
    settings.previous_secret_hash &&
    settings.previous_valid_until &&
    settings.previous_valid_until.getTime() > nowMs &&
    same(hash, settings.previous_secret_hash)
  ) {
    ok = true;
  }
  return ok;
}

/**
 * Sets a new secret for the context's company and returns it (the only time it is shown). The
 * previous one keeps working until `previousValidUntil` (a time not in the future ends it now).
 */
export async function rotateVoiceSecret(
  ctx: RequestContext,
  options: { previousValidUntil?: Date | null; now?: Date } = {},
): Promise<{ secret: string; previousValidUntil: Date | null }> {
  const now = options.now ?? new Date();
  const until = options.previousValidUntil ?? new Date(now.getTime() + DEFAULT_OVERLAP_MS);
  if (Number.isNaN(until.getTime()) || until.getTime() > now.getTime() + MAX_OVERLAP_MS) {
    throw badInput('previousValidUntil', 'previousValidUntil must be within 30 days');
  }
  const companyId = ctx.requireCompanyId();
  const secret = `vas_${randomBytes(32).toString('base64url')}`;
  return ctx.unitOfWork(async (trx) => {
    const current = await trx('voice_agent_settings')
      .forUpdate()
      .first<{ secret_hash: string | null } | undefined>('secret_hash');
    const overlap = Boolean(current?.secret_hash) && until.getTime() > now.getTime();
    const patch = {
      secret_hash: hashSecret(secret),
      previous_secret_hash: overlap ? current!.secret_hash : null,
      previous_valid_until: overlap ? until : null,
      secret_rotated_at: now,
    };
    await trx('voice_agent_settings')
      .insert({ company_id: companyId, ...patch })
      .onConflict(['company_id'])
      .merge(patch);
    await ctx.audit({
      action: 'voice_agent.secret_rotated',
      subjectType: 'company',
      subjectId: companyId,
      details: { previousValidUntil: overlap ? until.toISOString() : null },
    });
    return { secret, previousValidUntil: overlap ? until : null };
  });
}

/** Removes the company's bearer secret (and a previous one): requests need none from now on. */
export async function clearVoiceSecret(ctx: RequestContext): Promise<boolean> {
  const companyId = ctx.requireCompanyId();
  return ctx.unitOfWork(async (trx) => {
    const n = await trx('voice_agent_settings').whereNotNull('secret_hash').update({
      secret_hash: null,
      previous_secret_hash: null,
      previous_valid_until: null,
      secret_rotated_at: new Date(),
    });
    if (n > 0) {
      await ctx.audit({
        action: 'voice_agent.secret_cleared',
        subjectType: 'company',
        subjectId: companyId,
      });
    }
    return n > 0;
  });
}

/** Sets the language the voice agent speaks for the company: de or en. */
export async function setVoiceLanguage(ctx: RequestContext, language: string): Promise<string> {
  if (language !== 'de' && language !== 'en') {
    throw badInput('language', 'language must be de or en');
  }
  const companyId = ctx.requireCompanyId();
  return ctx.unitOfWork(async (trx) => {
    await trx('voice_agent_settings')
      .insert({ company_id: companyId, language })
      .onConflict(['company_id'])
      .merge({ language });
    await ctx.audit({
      action: 'voice_agent.language_set',
      subjectType: 'company',
      subjectId: companyId,
      details: { language },
    });
    return language;
  });
}
