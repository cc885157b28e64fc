import type { RequestContext } from '../../context/request-context';
import { translateDbError } from '../../db/errors';
import { badInput } from '../../errors/app-error';
import { RetellAgent } from '../../models';
import { AUDIT, SUBJECT } from '../audit';

/** A Retell agent assignment, already checked by the caller (trimmed, lengths, local branch id). */
export interface RetellAgentAssignment {
  agentId: string;
  /** Undefined: keep the current name (required for a new agent). */
  name?: string;
  active?: boolean | null;
  /** Undefined: keep the current branch; null: no branch. */
  branchId?: string | null;
}

const FIELDS = {
  retell_agents_agent_id_platform_unique: 'input.agentId',
  retell_agents_company_id_agent_id_unique: 'input.agentId',
  retell_agents_branch_id_fkey: 'input.branchId',
};

/**
 * Assigns a Retell agent id to the caller's company, or updates the agent the company already
 * has under that id (name, branch, active flag). An agent id another company holds is refused by
 * the platform-wide unique key (CONFLICT on input.agentId); audited in the same transaction.
 */
export async function assignRetellAgent(
  ctx: RequestContext,
  input: RetellAgentAssignment,
): Promise<RetellAgent> {
  const { agentId, name, branchId } = input;
  return ctx.unitOfWork(async (trx) => {
    const existing = await RetellAgent.query(trx).findOne({ agent_id: agentId });
    let row: RetellAgent;
    try {
      if (existing) {
        const patch = {
          ...(name !== undefined ? { name } : {}),
          ...(input.active !== undefined && input.active !== null ? { active: input.active } : {}),
          ...(branchId !== undefined ? { branchId } : {}),
        };
        row =
          Object.keys(patch).length === 0
            ? existing
            : ((
                (await RetellAgent.query(trx)
                  .patch(patch)
                  .where('retell_agents.id', existing.id)
                  .returning('*')) as unknown as RetellAgent[]
              )[0] ?? existing);
      } else {
        if (!name) throw badInput('input.name', 'input.name is required for a new agent');
        row = (await RetellAgent.query(trx)
          .insert({ agentId, name, active: input.active ?? true, branchId: branchId ?? null })
          .returning('*')) as unknown as RetellAgent;
      }
    } catch (err) {
      translateDbError(err, FIELDS);
    }
    await ctx.audit({
      action: existing ? AUDIT.retellAgent.update : AUDIT.retellAgent.assign,
      subjectType: SUBJECT.retellAgent,
      subjectId: row.id,
      details: { agentId, active: row.active },
    });
    return row;
  });
}
