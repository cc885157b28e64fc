import { BlockList, isIP } from 'node:net';
import type { Request } from 'express';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Config } from '../config';
import { lookupEndpointCredential } from '../webhooks/credentials';
import { verifyRetellSignature, type SignatureFailure } from '../webhooks/signatures';

/**
 * The first two of the voice agent's three auth layers (the third, the per-company bearer secret,
 * needs the company and is checked in its transaction, see secret.ts):
 * 1. the source address must be in VOICE_AGENT_ALLOWED_IPS; `req.ip` is Express's view, which
 *    reads X-Forwarded-For only through the proxies TRUST_PROXY names, so a spoofed header from
 *    anywhere else is ignored;
 * 2. `x-retell-signature` over the raw body, with the platform's Retell keys (company found by
 *    agent/number) or, on `/api/retell/<endpoint id>/…`, with that company's own Retell
 *    credential only (and the company found by agent/number must be that credential's).
 */
export function allowList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address, bits] = cidr.split('/');
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    list.addSubnet(address, Number(bits), type);
  }
  return list;
}

export function addressAllowed(list: BlockList, ip: string | undefined): boolean {
  if (!ip) return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  const address = mapped ? mapped[1] : ip;
  const family = isIP(address);
  if (family === 0) return false;
  return list.check(address, family === 6 ? 'ipv6' : 'ipv4');
}

export type SignatureCheck =
  | { ok: true; credential: { id: string; companyId: string } | null }
  | { ok: false; reason: SignatureFailure };

export async function checkSignature(
  req: Request,
  body: Buffer,
  config: Config,
  knex: Knex,
  logger: Logger,
  nowMs: number,
): Promise<SignatureCheck> {
  const header = req.header('x-retell-signature');
  const endpointId = req.params.endpointId as string | undefined;
  if (endpointId === undefined) {
    const verdict = verifyRetellSignature(body, header, config.retellApiKeys, nowMs);
    return verdict.ok ? { ok: true, credential: null } : verdict;
  }
  const found = await lookupEndpointCredential(
    knex,
    config.credentialKeys,
    logger,
    'retell',
    endpointId,
    nowMs,
  );
  if (!found.ok) return { ok: false, reason: found.reason };
  const verdict = verifyRetellSignature(body, header, found.secrets, nowMs);
  if (!verdict.ok) return verdict;
  return { ok: true, credential: { id: found.credentialId, companyId: found.companyId } };
}
