import type { UserRole } from '../domain/enums';

/** Who is acting. Every request context has exactly one actor. */
export type Actor =
  | {
      kind: 'user';
      userId: string;
      companyId: string;
      roles: readonly UserRole[];
      staffId: string | null;
      sessionId?: string;
    }
  | { kind: 'api_token'; tokenId: string; companyId: string; scopes: readonly string[] }
  | { kind: 'platform_admin'; adminId: string }
  | { kind: 'system'; name: 'webhook' | 'voice_agent' }
  | { kind: 'anonymous' };

export const ANONYMOUS: Actor = { kind: 'anonymous' };

/** The actor's id as written to activity_logs.actor_id. */
export function actorId(actor: Actor): string | null {
  switch (actor.kind) {
    case 'user':
      return actor.userId;
    case 'api_token':
      return actor.tokenId;
    case 'platform_admin':
      return actor.adminId;
    default:
      return null;
  }
}

/** The activity_logs.actor_type of an actor. */
export function actorType(
  actor: Actor,
): 'user' | 'api_token' | 'platform_admin' | 'system' | 'webhook' | 'voice_agent' {
  switch (actor.kind) {
    case 'user':
    case 'api_token':
    case 'platform_admin':
      return actor.kind;
    case 'system':
      return actor.name === 'webhook' || actor.name === 'voice_agent' ? actor.name : 'system';
    default:
      return 'system';
  }
}

/** How the acting party is written into `*_by` columns: 'user:<id>', 'voice_agent', 'webhook'. */
export function actorLabel(actor: Actor): string {
  const id = actorId(actor);
  return id ? `${actorType(actor)}:${id}` : actorType(actor);
}
