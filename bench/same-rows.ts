import { fromGlobalId } from '../src/graphql/global-id';
import type { LoadRequest } from './load';
import type { PeerPageShape } from './peer-target';

/**
 * Before anything is measured, every target answers one appointments page and the answers are
 * compared: the same appointment ids in the same order, the same customer, staff and service ids,
 * the same start, end and status. Ours and the floor's ids are global ids (decoded with the
 * product's own code, and their company checked); PostGraphile's `id` is the raw uuid column.
 */

export interface PageRow {
  id: string;
  customer: string;
  staff: string | null;
  service: string;
  startsAt: string;
  endsAt: string;
  status: string;
}

export interface SameRowsResult {
  ok: boolean;
  /** Targets compared, e.g. ['floor', 'prod', 'peer']. */
  targets: string[];
  rows: number;
  detail: string;
}

type Json = Record<string, unknown>;

const iso = (v: unknown, where: string): string => {
  const d = new Date(String(v));
  if (Number.isNaN(d.getTime())) throw new Error(`${where}: not a timestamp: ${String(v)}`);
  return d.toISOString();
};

function decode(value: unknown, type: string, companyId: string, where: string): string {
  const g = fromGlobalId(String(value), where);
  if (g.type !== type) throw new Error(`${where}: a ${g.type} id where a ${type} id belongs`);
  if (g.companyId !== companyId.toLowerCase()) {
    throw new Error(`${where}: an id of company ${g.companyId}, not the measured company`);
  }
  return g.id;
}

function edgesOf(body: unknown, root: string): Json[] {
  const b = body as { data?: Record<string, { edges?: Array<{ node: Json }> }>; errors?: unknown };
  if (b.errors) throw new Error(`errors: ${JSON.stringify(b.errors).slice(0, 300)}`);
  const edges = b.data?.[root]?.edges;
  if (!Array.isArray(edges)) throw new Error(`no ${root}.edges in the answer`);
  return edges.map((e) => e.node);
}

/** Our answer (and the floor's, which has the same shape): global ids, enum statuses. */
export function rowsFromOurs(body: unknown, companyId: string): PageRow[] {
  return edgesOf(body, 'appointments').map((n, i) => {
    const w = `row ${i}`;
    const rel = (key: string) => n[key] as Json | null;
    return {
      id: decode(n.id, 'Appointment', companyId, `${w} id`),
      customer: decode(rel('customer')?.id, 'Customer', companyId, `${w} customer`),
      staff: rel('staff') ? decode(rel('staff')!.id, 'Staff', companyId, `${w} staff`) : null,
      service: decode(rel('service')?.id, 'Service', companyId, `${w} service`),
      startsAt: iso(n.startsAt, `${w} startsAt`),
      endsAt: iso(n.endsAt, `${w} endsAt`),
      status: String(n.status).toLowerCase(),
    };
  });
}

/** PostGraphile's answer: uuid columns, timestamps with an offset, the status column's text. */
export function rowsFromPeer(body: unknown, shape: PeerPageShape): PageRow[] {
  return edgesOf(body, shape.root).map((n, i) => {
    const w = `row ${i}`;
    const rel = (key: string) => n[key] as Json | null;
    const id = (v: unknown, field: string) => {
      if (typeof v !== 'string') throw new Error(`${w} ${field}: no id`);
      return v.toLowerCase();
    };
    const staff = rel(shape.staff);
    return {
      id: id(n.id, 'id'),
      customer: id(rel(shape.customer)?.id, 'customer'),
      staff: staff ? id(staff.id, 'staff') : null,
      service: id(rel(shape.service)?.id, 'service'),
      startsAt: iso(n.startsAt, `${w} startsAt`),
      endsAt: iso(n.endsAt, `${w} endsAt`),
      status: String(n.status).toLowerCase(),
    };
  });
}

const FIELDS: Array<keyof PageRow> = [
  'id',
  'customer',
  'staff',
  'service',
  'startsAt',
  'endsAt',
  'status',
];

/**
 * Compares every target's rows with the first's. Fewer than two targets, or an empty page, is not
 * a pass: nothing would have been compared.
 */
export function compareRows(pages: Array<{ target: string; rows: PageRow[] }>): SameRowsResult {
  const targets = pages.map((p) => p.target);
  if (pages.length < 2) {
    return { ok: false, targets, rows: 0, detail: 'fewer than two targets to compare' };
  }
  const [ref, ...others] = pages;
  if (ref.rows.length === 0) {
    return { ok: false, targets, rows: 0, detail: `${ref.target} answered no rows` };
  }
  const problems: string[] = [];
  for (const other of others) {
    if (other.rows.length !== ref.rows.length) {
      problems.push(`${other.target} ${other.rows.length} rows, ${ref.target} ${ref.rows.length}`);
    }
    const n = Math.min(other.rows.length, ref.rows.length);
    for (let i = 0; i < n; i++) {
      const differ = FIELDS.filter((f) => other.rows[i][f] !== ref.rows[i][f]);
      if (differ.length) {
        const f = differ[0];
        problems.push(
          `${other.target} row ${i} ${differ.join(', ')} differ (${f}: ${String(other.rows[i][f])} vs ${ref.target} ${String(ref.rows[i][f])})`,
        );
        break;
      }
    }
  }
  return {
    ok: problems.length === 0,
    targets,
    rows: ref.rows.length,
    detail: problems.length
      ? problems.join('; ')
      : `${ref.rows.length} rows equal (ids, order, customer/staff/service, start, end, status)`,
  };
}

/** Sends one request as the load generator would and parses the JSON answer. */
export async function fetchOnce(baseUrl: string, req: LoadRequest): Promise<unknown> {
  const res = await fetch(`${baseUrl}${req.path}`, {
    method: req.method,
    headers: req.headers,
    body: req.body,
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${text.slice(0, 200)}`);
  return JSON.parse(text) as unknown;
}
