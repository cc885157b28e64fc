import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import {
  buildClientSchema,
  getIntrospectionQuery,
  getNamedType,
  isEnumType,
  isObjectType,
  type GraphQLObjectType,
  type GraphQLSchema,
  type IntrospectionQuery,
} from 'graphql';
import { graphqlCheck } from './load';
import type { BenchContext, Operation, Skipped } from './operations';

/**
 * The peer target: PostGraphile 4 over the same database (bench/peer/server.js, a package of its
 * own because PostGraphile 4 needs graphql 15). Installed on demand with `npm ci`; its operations
 * are built from its generated schema, found by introspection.
 */

/** bench/peer in the source tree (the harness runs from dist/bench). */
export const PEER_DIR = path.resolve(__dirname, '..', '..', 'bench', 'peer');

/** `npm ci --prefix bench/peer` when its node_modules is missing (only the npm registry is used). */
export function ensurePeerInstalled(log: (m: string) => void, dir = PEER_DIR): void {
  if (existsSync(path.join(dir, 'node_modules', 'postgraphile'))) return;
  log(`installing the peer (npm ci --prefix ${path.relative(process.cwd(), dir) || dir})`);
  execFileSync('npm', ['ci', '--prefix', dir, '--no-audit', '--no-fund', '--loglevel=error'], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}

const JSON_HEADERS = { 'content-type': 'application/json' };

export async function introspectPeer(baseUrl: string, companyId: string): Promise<GraphQLSchema> {
  const res = await fetch(`${baseUrl}/graphql`, {
    method: 'POST',
    headers: { ...JSON_HEADERS, 'x-company-id': companyId },
    body: JSON.stringify({ query: getIntrospectionQuery() }),
  });
  const body = (await res.json()) as { data?: IntrospectionQuery; errors?: unknown };
  if (!body.data) throw new Error(`peer introspection failed: ${JSON.stringify(body.errors)}`);
  return buildClientSchema(body.data);
}

/** The generated names the page query needs. */
export interface PeerPageShape {
  /** Root field of the appointments connection, e.g. allAppointments. */
  root: string;
  /** Order by starts_at, then id (as ours and the floor). */
  orderBy: string[];
  customer: string;
  staff: string;
  service: string;
}

const APPOINTMENT_FIELDS = ['id', 'startsAt', 'endsAt', 'status', 'source', 'notes', 'priceCents'];
const RELATION_FIELDS = {
  customer: ['id', 'name', 'phoneE164', 'email'],
  staff: ['id', 'name'],
  service: ['id', 'name', 'durationMinutes', 'priceCents'],
} as const;
const RELATION_TYPES = { customer: 'Customer', staff: 'Staff', service: 'Service' } as const;

function missingFields(type: GraphQLObjectType, names: readonly string[]): string[] {
  const fields = type.getFields();
  return names.filter((n) => !fields[n]);
}

/**
 * Finds the appointments connection and the forward relations in PostGraphile's schema. With
 * composite foreign keys `(company_id, customer_id) → customers (company_id, id)` the relations
 * are named after both columns, e.g. `customerByCompanyIdAndCustomerId`.
 */
export function findPeerPageShape(schema: GraphQLSchema): PeerPageShape | { missing: string } {
  const query = schema.getQueryType();
  const appointment = schema.getType('Appointment');
  if (!query || !appointment || !isObjectType(appointment)) {
    return { missing: 'the peer schema has no Appointment type (grants or RLS hide the table?)' };
  }
  const root = Object.values(query.getFields()).find(
    (f) => getNamedType(f.type).name === 'AppointmentsConnection',
  );
  if (!root) return { missing: 'no query field returns AppointmentsConnection' };
  const orderArg = root.args.find((a) => a.name === 'orderBy');
  const orderType = orderArg ? getNamedType(orderArg.type) : undefined;
  const orderBy = ['STARTS_AT_ASC', 'ID_ASC'];
  if (!orderType || !isEnumType(orderType) || orderBy.some((v) => !orderType.getValue(v))) {
    return { missing: `${root.name} cannot be ordered by ${orderBy.join(', ')}` };
  }
  const missing = missingFields(appointment, APPOINTMENT_FIELDS);
  if (missing.length) return { missing: `Appointment lacks ${missing.join(', ')}` };
  const relations: Partial<Record<keyof typeof RELATION_TYPES, string>> = {};
  for (const [key, typeName] of Object.entries(RELATION_TYPES) as Array<
    [keyof typeof RELATION_TYPES, string]
  >) {
    const candidates = Object.values(appointment.getFields()).filter(
      (f) => getNamedType(f.type).name === typeName && f.args.length === 0,
    );
    // The composite key's relation (company_id and the column) when there are several.
    const field =
      candidates.find((f) => /ByCompanyIdAnd/.test(f.name)) ??
      (candidates.length === 1 ? candidates[0] : undefined);
    if (!field) {
      return {
        missing: `no single relation from Appointment to ${typeName} (found ${candidates.map((c) => c.name).join(', ') || 'none'})`,
      };
    }
    const type = getNamedType(field.type) as GraphQLObjectType;
    const lacks = missingFields(type, RELATION_FIELDS[key]);
    if (lacks.length) return { missing: `${typeName} lacks ${lacks.join(', ')}` };
    relations[key] = field.name;
  }
  return {
    root: root.name,
    orderBy,
    customer: relations.customer!,
    staff: relations.staff!,
    service: relations.service!,
  };
}

/** The appointments page in PostGraphile's schema: the same rows and fields as ours. */
export function peerPageQuery(shape: PeerPageShape): string {
  return `query PeerAppointmentsPage($first: Int!) {
  ${shape.root}(first: $first, orderBy: [${shape.orderBy.join(', ')}]) {
    edges {
      cursor
      node {
        ${APPOINTMENT_FIELDS.join(' ')}
        ${shape.customer} { ${RELATION_FIELDS.customer.join(' ')} }
        ${shape.staff} { ${RELATION_FIELDS.staff.join(' ')} }
        ${shape.service} { ${RELATION_FIELDS.service.join(' ')} }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}`;
}

export function peerPage(
  ctx: BenchContext,
  shape: PeerPageShape | { missing: string },
  first: number,
): Operation | Skipped {
  const name = first === 50 ? 'appointmentsPage' : `appointmentsPage${first}`;
  if ('missing' in shape) return { name, reason: `peer: ${shape.missing}` };
  const query = peerPageQuery(shape);
  const body = JSON.stringify({ query, variables: { first } });
  return {
    name,
    title: `PostGraphile ${shape.root}(first: ${first}) with customer, staff, service`,
    detail: query.replace(/\s+/g, ' ').trim(),
    build: () => ({
      method: 'POST',
      path: '/graphql',
      headers: { ...JSON_HEADERS, 'x-company-id': ctx.seed.bench.id },
      body,
      check: graphqlCheck,
    }),
  };
}
