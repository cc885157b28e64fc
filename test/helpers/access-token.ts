import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { signAccessToken, type AccessClaims } from '../../src/auth/tokens';

/**
 * Signs an access token for tests that need an actor without signing in. The server accepts an
 * access token only while its user (or platform admin) exists and its session is live, so the
 * account and a live session are created first, through the superuser connection.
 */
export async function accessTokenFor(
  superuser: Knex,
  secret: Uint8Array,
  claims: Omit<AccessClaims, 'sid'>,
  ttlSeconds = 300,
): Promise<string> {
  const sid = randomUUID();
  if (claims.typ === 'platform_admin') {
    await superuser('platform_admins')
      .insert({
        id: claims.sub,
        email: `${claims.sub}@platform.test`,
        name: 'Test operator',
        password_hash: 'not-a-hash',
      })
      .onConflict('id')
      .ignore();
  } else {
    await superuser('users')
      .insert({
        id: claims.sub,
        company_id: claims.cid,
        email: `${claims.sub}@users.test`,
        name: 'Test user',
        password_hash: 'not-a-hash',
        roles: claims.roles ?? ['staff'],
        staff_id: claims.stf ?? null,
      })
      .onConflict(['company_id', 'id'])
      .ignore();
    await superuser('user_sessions').insert({
      company_id: claims.cid,
      user_id: claims.sub,
      family_id: sid,
      token_hash: 'not-a-hash',
      expires_at: new Date(Date.now() + ttlSeconds * 1000),
    });
  }
  return (await signAccessToken(secret, { ...claims, sid }, ttlSeconds)).token;
}
