import type { Knex } from 'knex';
import { e164OrNull } from '../domain/phone';
import { isRecord } from './envelope';

/**
 * Which company an event belongs to, found through the platform routing functions (the only way
 * the runtime role can look across companies). A match in more than one company is ambiguous and
 * the event stays unroutable: it is never attached to a guessed company.
 */
export type Route<T> =
  { kind: 'company'; companyId: string; data: T } | { kind: 'unroutable'; reason: string };

export interface RetellRouteData {
  retellAgentId: string | null;
  phoneNumberId: string | null;
}

/**
 * A Retell call routes by its agent id (retell_agents), else by the business-side number
 * (phone_numbers): the number called for an inbound call, the number calling for an outbound one.
 */
export async function routeRetellCall(knex: Knex, call: unknown): Promise<Route<RetellRouteData>> {
  if (!isRecord(call)) return { kind: 'unroutable', reason: 'event has no call object' };
  const agentId = typeof call.agent_id === 'string' && call.agent_id !== '' ? call.agent_id : null;
  const ourNumber = e164OrNull(call.direction === 'outbound' ? call.from_number : call.to_number);
  if (!agentId && !ourNumber) {
    return { kind: 'unroutable', reason: 'call has neither an agent_id nor a business number' };
  }
  const { rows } = await knex.raw<{
    rows: {
      matched_by: 'agent' | 'number';
      company_id: string;
      retell_agent_id: string | null;
      phone_number_id: string | null;
    }[];
  }>('select * from platform_route_retell(?, ?)', [agentId, ourNumber]);
  const agents = rows.filter((r) => r.matched_by === 'agent');
  const numbers = rows.filter((r) => r.matched_by === 'number');
  const agentCompanies = new Set(agents.map((r) => r.company_id));
  if (agentCompanies.size > 1) {
    return { kind: 'unroutable', reason: `agent ${agentId} is registered by several companies` };
  }
  if (agentCompanies.size === 1) {
    const agent = agents[0];
    const number = numbers.find((r) => r.company_id === agent.company_id);
    return {
      kind: 'company',
      companyId: agent.company_id,
      data: {
        retellAgentId: agent.retell_agent_id,
        phoneNumberId: number?.phone_number_id ?? null,
      },
    };
  }
  const numberCompanies = new Set(numbers.map((r) => r.company_id));
  if (numberCompanies.size > 1) {
    return { kind: 'unroutable', reason: `number ${ourNumber} belongs to several companies` };
  }
  if (numberCompanies.size === 1) {
    // The number's configured agent is not necessarily the one that took this call, so only the
    // number is recorded.
    return {
      kind: 'company',
      companyId: numbers[0].company_id,
      data: { retellAgentId: null, phoneNumberId: numbers[0].phone_number_id },
    };
  }
  return {
    kind: 'unroutable',
    reason: `no company has agent ${agentId ?? '(none)'} or number ${ourNumber ?? '(none)'}`,
  };
}

export interface CalcomRouteData {
  mappingId: string;
  eventTypeId: number;
}

/**
 * A Cal.com booking routes by its event type through team_event_type_mappings. For an event
 * verified by a company's credential, that company's own mapping wins, so another company mapping
 * the same event type id cannot make it ambiguous (and block it).
 */
export async function routeCalcomBooking(
  knex: Knex,
  booking: unknown,
  credentialCompanyId: string | null = null,
): Promise<Route<CalcomRouteData>> {
  if (!isRecord(booking)) return { kind: 'unroutable', reason: 'event has no payload object' };
  const raw = booking.eventTypeId;
  const eventTypeId = typeof raw === 'string' && /^\d{1,9}$/.test(raw) ? Number(raw) : raw;
  if (
    typeof eventTypeId !== 'number' ||
    !Number.isInteger(eventTypeId) ||
    eventTypeId <= 0 ||
    eventTypeId > 2147483647
  ) {
    return { kind: 'unroutable', reason: 'booking has no eventTypeId' };
  }
  const { rows: found } = await knex.raw<{
    rows: { company_id: string; mapping_id: string }[];
  }>('select * from platform_route_calcom(?)', [eventTypeId]);
  const own = credentialCompanyId ? found.filter((r) => r.company_id === credentialCompanyId) : [];
  const rows = own.length > 0 ? own : found;
  if (rows.length > 1) {
    return {
      kind: 'unroutable',
      reason: `event type ${eventTypeId} is mapped by several companies`,
    };
  }
  if (rows.length === 0) {
    return { kind: 'unroutable', reason: `event type ${eventTypeId} is not mapped to a service` };
  }
  return {
    kind: 'company',
    companyId: rows[0].company_id,
    data: { mappingId: rows[0].mapping_id, eventTypeId },
  };
}
