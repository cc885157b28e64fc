import { Arg, Ctx, Field, ID, Int, ObjectType, Query, Resolver } from 'type-graphql';
import {
  connectionOf,
  KEYSET_CONNECTIONS,
  pageSize,
  type ConnectionResult,
} from '../graphql/connection';
import type { GraphQLContext } from '../graphql/context';
import {
  countPlatformAudit,
  encodeAuditCursor,
  listPlatformAudit,
  type PlatformAuditRow,
} from '../services/platform-audit';
import { DateTime, JSONObject } from './common';

@ObjectType('PlatformAuditEntry', {
  description: 'An entry of the platform audit trail: an action of a platform admin.',
})
export class PlatformAuditEntryType {
  @Field(() => ID)
  id!: string;

  @Field(() => DateTime)
  at!: Date;

  @Field({ description: 'platform_admin or system.' })
  actorType!: string;

  @Field(() => String, { nullable: true, description: 'Raw id of the platform admin.' })
  actorId!: string | null;

  @Field({ description: 'What happened, e.g. platform_admin.create or platform.act_in_company.' })
  action!: string;

  @Field(() => String, { nullable: true, description: 'Raw id of the company concerned.' })
  targetCompanyId!: string | null;

  @Field(() => JSONObject)
  details!: Record<string, unknown>;

  @Field(() => String, { nullable: true })
  requestId!: string | null;

  @Field(() => String, { nullable: true })
  ip!: string | null;
}

// Its cursor is (at, id) of the platform trail, checked by decodeAuditCursor before any SQL.
export const PlatformAuditEntryConnection = connectionOf(
  PlatformAuditEntryType,
  'PlatformAuditEntry',
  { keyset: false },
).Connection;
// Its cursors are the platform trail's own (at, id), checked by listPlatformAudit before any SQL,
// not the tenant keyset cursors the schema checks up front for the other connections.
KEYSET_CONNECTIONS.delete('PlatformAuditEntryConnection');

@Resolver(() => PlatformAuditEntryType)
export class PlatformAuditResolver {
  @Query(() => PlatformAuditEntryConnection, {
    description: 'The platform audit trail, newest first. Super admins only.',
  })
  async platformAuditLog(
    @Arg('first', () => Int) first: number,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() { ctx }: GraphQLContext,
  ): Promise<ConnectionResult<PlatformAuditRow>> {
    const { size } = pageSize({ first });
    const platform = ctx.deps.db.platform;
    const { rows, hasNextPage } = await listPlatformAudit(platform, size, after);
    const edges = rows.map((node) => ({ node, cursor: encodeAuditCursor(node) }));
    return {
      edges,
      nodes: rows,
      pageInfo: {
        hasNextPage,
        hasPreviousPage: Boolean(after),
        startCursor: edges[0]?.cursor ?? null,
        endCursor: edges[edges.length - 1]?.cursor ?? null,
      },
      get totalCount() {
        return countPlatformAudit(platform);
      },
    };
  }
}
