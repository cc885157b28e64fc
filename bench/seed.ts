import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { DateTime } from 'luxon';
import { hashPassword } from '../src/auth/password';

/**
 * Seeds a benchmark database at a multiple of the old system's production volumes (117
 * appointments, 60 customers, 100 calls), spread over many companies with a realistic skew: the
 * first company holds a fifth of every table, the rest follow a flat Zipf curve.
 *
 * Everything is written as the superuser (row level security does not apply to it) with one
 * `insert ... select * from unnest(...)` per chunk of rows, so 1000x (117,000 appointments) takes
 * seconds, not minutes. Appointments sit on an hourly grid per staff member with duration plus
 * buffer of at most an hour, so the exclusion constraint against overlapping appointments of one
 * staff member is never violated.
 */

/** The old system's volumes at 1x. */
export const BASE_VOLUMES = { appointments: 117, customers: 60, calls: 100 } as const;

export const BENCH_PASSWORD = 'bench-password-not-secret';
export const TIME_ZONE = 'Europe/Berlin';
/** Seeded appointments cover this many days before and after today. */
export const PAST_DAYS = 365;
export const FUTURE_DAYS = 60;
/** Working hours of every staff member, Monday to Friday, in TIME_ZONE. */
export const WORK_START_HOUR = 9;
export const WORK_END_HOUR = 17;
/** The benchmark company's booking horizon (days), so bookings can go past the seeded range. */
export const BENCH_HORIZON_DAYS = 730;

export interface SeedOptions {
  /** Multiple of BASE_VOLUMES. */
  scale: number;
  /** Number of companies; default grows with the square root of the scale, 10 to 100. */
  companies?: number;
  /** PRNG seed, so two runs seed the same shape. */
  seed?: number;
  now?: Date;
  /** Skip the argon2 hash (tests that never sign in). */
  passwordHash?: string;
  /** Rows per insert statement. */
  chunkSize?: number;
}

/** What the benchmark needs to know about the company it drives (the largest one). */
export interface SeededCompany {
  id: string;
  slug: string;
  adminEmail: string;
  branchIds: string[];
  staffIds: string[];
  serviceIds: string[];
  /** Performed by every staff member, 30 minutes, no buffer: the one availability and booking use. */
  bookingServiceId: string;
  bookingServiceName: string;
  retellAgentId: string;
  phoneNumber: string;
  /** Samples for request variety. */
  appointmentIds: string[];
  customerIds: string[];
  customerPhones: string[];
  namePrefixes: string[];
  counts: { appointments: number; customers: number; calls: number; staff: number };
}

export interface SeedResult {
  scale: number;
  companies: number;
  totals: Record<string, number>;
  bench: SeededCompany;
  seconds: number;
}

export function defaultCompanies(scale: number): number {
  return Math.max(10, Math.min(100, Math.round(10 * Math.sqrt(scale))));
}

/** mulberry32: small, fast, deterministic. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Shares per company: the first 20%, the others a flat Zipf curve (exponent 0.7) over 80%. */
export function companyShares(n: number): number[] {
  if (n === 1) return [1];
  const rest = Array.from({ length: n - 1 }, (_, k) => (k + 1) ** -0.7);
  const sum = rest.reduce((a, b) => a + b, 0);
  return [0.2, ...rest.map((w) => (0.8 * w) / sum)];
}

/** Splits `total` by `shares` into integers that add up exactly (largest remainder). */
export function allocate(total: number, shares: number[]): number[] {
  const raw = shares.map((s) => s * total);
  const out = raw.map(Math.floor);
  let left = total - out.reduce((a, b) => a + b, 0);
  const order = raw.map((r, i) => [r - Math.floor(r), i]).sort((a, b) => b[0] - a[0]);
  for (let k = 0; left > 0; k = (k + 1) % order.length, left--) out[order[k][1]] += 1;
  return out;
}

// prettier-ignore
const FIRST = [
  'Anna', 'Ben', 'Clara', 'David', 'Emma', 'Felix', 'Greta', 'Hanna', 'Ida', 'Jonas', 'Karl',
  'Lena', 'Mia', 'Noah', 'Olga', 'Paul', 'Quirin', 'Rosa', 'Sven', 'Tina', 'Uwe', 'Vera',
  'Walter', 'Xenia', 'Yara', 'Zoe', 'Marie', 'Max', 'Lukas', 'Laura', 'Mats', 'Sophie',
  'Elias', 'Ella', 'Finn', 'Frieda', 'Henri', 'Helena', 'Theo', 'Tom',
];
// prettier-ignore
const LAST = [
  'Müller', 'Schmidt', 'Schneider', 'Fischer', 'Weber', 'Meyer', 'Wagner', 'Becker', 'Schulz',
  'Hoffmann', 'Koch', 'Richter', 'Klein', 'Wolf', 'Schröder', 'Neumann', 'Schwarz', 'Braun',
  'Zimmermann', 'Krüger', 'Hartmann', 'Lange', 'Werner', 'Krause', 'Lehmann', 'Köhler',
];

const SERVICES = [
  // duration + buffer never exceeds the one-hour grid cell
  { name: 'Haircut', duration: 30, buffer: 0, price: 3500 },
  { name: 'Colour', duration: 60, buffer: 0, price: 8900 },
  { name: 'Beard trim', duration: 20, buffer: 10, price: 1800 },
  { name: 'Consultation', duration: 45, buffer: 15, price: 0 },
  { name: 'Wash and style', duration: 40, buffer: 5, price: 2900 },
];

type ColumnType =
  | 'uuid'
  | 'text'
  | 'citext'
  | 'timestamptz'
  | 'int'
  | 'smallint'
  | 'bool'
  | 'jsonb'
  | 'time'
  | 'date';

/**
 * Inserts rows column-wise: one statement per chunk, each column passed as one array parameter.
 * Returns the number of rows.
 */
export async function bulkInsert(
  knex: Knex,
  table: string,
  columns: Array<[string, ColumnType]>,
  rows: unknown[][],
  chunkSize = 5000,
): Promise<number> {
  for (let start = 0; start < rows.length; start += chunkSize) {
    const chunk = rows.slice(start, start + chunkSize);
    const arrays = columns.map((_, c) => chunk.map((r) => r[c] ?? null));
    const names = columns.map(([n]) => `"${n}"`).join(', ');
    const params = columns.map(([, t]) => `?::${t}[]`).join(', ');
    // pg sends each JavaScript array as one Postgres array parameter.
    const bindings = arrays as unknown as Knex.RawBinding[];
    await knex.raw(`insert into "${table}" (${names}) select * from unnest(${params})`, bindings);
  }
  return rows.length;
}

/** Start instants of the grid: every working hour of every weekday in the seeded range. */
function hourGrid(now: Date): Date[] {
  const today = DateTime.fromJSDate(now, { zone: TIME_ZONE }).startOf('day');
  const out: Date[] = [];
  for (let d = -PAST_DAYS; d <= FUTURE_DAYS; d++) {
    const day = today.plus({ days: d });
    if (day.weekday > 5) continue;
    for (let h = WORK_START_HOUR; h < WORK_END_HOUR; h++) {
      out.push(day.set({ hour: h, minute: 0, second: 0, millisecond: 0 }).toJSDate());
    }
  }
  return out;
}

function pick<T>(rand: () => number, list: readonly T[]): T {
  return list[Math.floor(rand() * list.length)];
}

function weighted<T extends string>(rand: () => number, table: Array<[T, number]>): T {
  let r = rand() * table.reduce((a, [, w]) => a + w, 0);
  for (const [value, w] of table) {
    r -= w;
    if (r < 0) return value;
  }
  return table[table.length - 1][0];
}

const MINUTE = 60_000;
const DAY = 86_400_000;

/** Seeds every table the hot paths read. `knex` must be a superuser (or the schema owner). */
export async function seedBenchData(knex: Knex, options: SeedOptions): Promise<SeedResult> {
  const started = Date.now();
  const scale = options.scale;
  const nCompanies = options.companies ?? defaultCompanies(scale);
  const rand = prng(options.seed ?? 20261126);
  const now = options.now ?? new Date();
  const chunk = options.chunkSize ?? 5000;
  const passwordHash = options.passwordHash ?? (await hashPassword(BENCH_PASSWORD));

  const shares = companyShares(nCompanies);
  const apptCounts = allocate(Math.round(BASE_VOLUMES.appointments * scale), shares);
  const customerCounts = allocate(Math.round(BASE_VOLUMES.customers * scale), shares);
  const callCounts = allocate(Math.round(BASE_VOLUMES.calls * scale), shares);
  // Every company has at least one customer (appointments need one); the largest pays for it.
  for (let i = 1; i < nCompanies; i++) {
    if (customerCounts[i] === 0) {
      customerCounts[i] = 1;
      customerCounts[0] -= 1;
    }
  }

  const grid = hourGrid(now);
  const nowMs = now.getTime();

  const rows: Record<string, unknown[][]> = {
    companies: [],
    branches: [],
    staff: [],
    service_categories: [],
    services: [],
    staff_services: [],
    working_hours: [],
    time_off: [],
    customers: [],
    retell_agents: [],
    phone_numbers: [],
    calls: [],
    appointments: [],
    callback_requests: [],
    policy_configurations: [],
  };
  const users: Array<Record<string, unknown>> = [];
  let bench: SeededCompany | undefined;
  let phoneCounter = 0;

  for (let ci = 0; ci < nCompanies; ci++) {
    const companyId = randomUUID();
    const slug = `bench-${ci}`;
    rows.companies.push([companyId, `Bench company ${ci}`, slug, TIME_ZONE, 'DE', 'EUR']);
    const nAppts = apptCounts[ci];
    const nCustomers = customerCounts[ci];
    const nCalls = callCounts[ci];
    const nStaff = Math.max(2, Math.ceil(nAppts / (grid.length * 0.6)));
    const nBranches = Math.ceil(nStaff / 8);

    const branchIds = Array.from({ length: nBranches }, () => randomUUID());
    branchIds.forEach((id, b) =>
      rows.branches.push([id, companyId, `Branch ${b + 1}`, `Street ${b + 1}`, TIME_ZONE]),
    );
    const staffIds = Array.from({ length: nStaff }, () => randomUUID());
    const staffBranch = staffIds.map((_, j) => branchIds[j % nBranches]);
    staffIds.forEach((id, j) =>
      rows.staff.push([
        id,
        companyId,
        `${pick(rand, FIRST)} ${pick(rand, LAST)} (${j + 1})`,
        `staff${j + 1}@${slug}.test`,
        staffBranch[j],
        `#${((j * 2654435761) >>> 8).toString(16).padStart(6, '0').slice(0, 6)}`,
      ]),
    );
    const categoryId = randomUUID();
    rows.service_categories.push([categoryId, companyId, 'Hair', 0]);
    const serviceIds = SERVICES.map(() => randomUUID());
    SERVICES.forEach((s, k) =>
      rows.services.push([
        serviceIds[k],
        companyId,
        s.name,
        s.duration,
        s.buffer,
        s.price,
        categoryId,
      ]),
    );
    // Service 0 by everyone; the others by every other staff member.
    const performs = (j: number, k: number) => k === 0 || (j + k) % 2 === 0;
    for (let j = 0; j < nStaff; j++) {
      for (let k = 0; k < SERVICES.length; k++) {
        if (performs(j, k))
          rows.staff_services.push([randomUUID(), companyId, staffIds[j], serviceIds[k]]);
      }
      for (let wd = 1; wd <= 5; wd++) {
        rows.working_hours.push([
          randomUUID(),
          companyId,
          staffIds[j],
          staffBranch[j],
          wd,
          `${String(WORK_START_HOUR).padStart(2, '0')}:00`,
          `${String(WORK_END_HOUR).padStart(2, '0')}:00`,
        ]);
      }
      if (j % 4 === 3) {
        // A past holiday week.
        const start = new Date(nowMs - (60 + j) * DAY);
        rows.time_off.push([
          randomUUID(),
          companyId,
          staffIds[j],
          start,
          new Date(start.getTime() + 7 * DAY),
          'Holiday',
        ]);
      }
    }

    const customerIds: string[] = [];
    const customerPhones: string[] = [];
    const customerNames: string[] = [];
    for (let k = 0; k < nCustomers; k++) {
      const id = randomUUID();
      const first = pick(rand, FIRST);
      const last = pick(rand, LAST);
      const n = ++phoneCounter;
      const phone = `+49151${String(10_000_000 + n)}`;
      const email = rand() < 0.7 ? `${first}.${last}.${n}@example.test`.toLowerCase() : null;
      const created = new Date(nowMs - Math.floor(rand() * 730 * DAY));
      customerIds.push(id);
      customerPhones.push(phone);
      customerNames.push(`${first} ${last}`);
      rows.customers.push([
        id,
        companyId,
        `${first} ${last}`,
        phone,
        email,
        rand() < 0.8 ? 'de' : 'en',
        rand() < 0.03 ? created : null,
        created,
        created,
      ]);
    }

    const agentId = randomUUID();
    const retellAgentId = `agent_bench_${ci}`;
    rows.retell_agents.push([agentId, companyId, retellAgentId, `Agent ${ci}`, true, branchIds[0]]);
    const phoneNumberId = randomUUID();
    const phoneNumber = `+4930${String(1_000_000 + ci)}`;
    rows.phone_numbers.push([
      phoneNumberId,
      companyId,
      phoneNumber,
      'Main line',
      true,
      branchIds[0],
      agentId,
    ]);

    const callIds: string[] = [];
    for (let k = 0; k < nCalls; k++) {
      const id = randomUUID();
      callIds.push(id);
      const created = new Date(nowMs - Math.floor(rand() * PAST_DAYS * DAY));
      const connected = rand() < 0.9;
      const duration = connected ? Math.floor(30_000 + rand() * 400_000) : 0;
      const cust = rand() < 0.7 ? Math.floor(rand() * nCustomers) : -1;
      rows.calls.push([
        id,
        companyId,
        `call_${ci}_${k}`,
        'inbound',
        connected ? 'ended' : 'not_connected',
        cust >= 0 ? customerPhones[cust] : `+49171${String(10_000_000 + k)}`,
        phoneNumber,
        created,
        new Date(created.getTime() + duration),
        duration,
        connected ? 'Caller asked for an appointment.' : null,
        connected
          ? weighted(rand, [
              ['positive', 5],
              ['neutral', 4],
              ['negative', 1],
            ])
          : null,
        connected,
        connected
          ? weighted(rand, [
              ['booked', 40],
              ['information', 25],
              ['callback_requested', 10],
              ['no_action', 15],
              ['rescheduled', 5],
              ['cancelled', 5],
            ])
          : 'no_action',
        phoneNumberId,
        agentId,
        cust >= 0 ? customerIds[cust] : null,
        created,
        created,
      ]);
      if (rand() < 0.05) {
        rows.callback_requests.push([
          randomUUID(),
          companyId,
          cust >= 0 ? customerPhones[cust] : `+49171${String(10_000_000 + k)}`,
          cust >= 0 ? customerNames[cust] : null,
          'Wants a call back',
          weighted(rand, [
            ['normal', 6],
            ['high', 3],
            ['urgent', 1],
          ]),
          weighted(rand, [
            ['pending', 10],
            ['assigned', 5],
            ['contacted', 5],
            ['done', 70],
            ['expired', 10],
          ]),
          new Date(created.getTime() + DAY),
          cust >= 0 ? customerIds[cust] : null,
          id,
          created,
          created,
        ]);
      }
    }

    // Appointments: distinct (staff, grid hour) cells, sampled without replacement.
    const cells = nStaff * grid.length;
    if (nAppts > cells * 0.9) throw new Error(`too many appointments for ${slug}`);
    const taken = new Set<number>();
    const appointmentIds: string[] = [];
    while (taken.size < nAppts) {
      const cell = Math.floor(rand() * cells);
      if (taken.has(cell)) continue;
      taken.add(cell);
      const j = cell % nStaff;
      const start = grid[Math.floor(cell / nStaff)];
      const startMs = start.getTime();
      const candidates = SERVICES.map((_, k) => k).filter((k) => performs(j, k));
      const k = pick(rand, candidates);
      const svc = SERVICES[k];
      const past = startMs < nowMs;
      const status = past
        ? weighted(rand, [
            ['completed', 82],
            ['cancelled', 10],
            ['no_show', 8],
          ])
        : weighted(rand, [
            ['scheduled', 65],
            ['confirmed', 30],
            ['cancelled', 5],
          ]);
      const source = weighted(rand, [
        ['phone', 50],
        ['web', 20],
        ['calcom', 15],
        ['manual', 15],
      ]);
      const created = new Date(Math.min(nowMs, startMs - Math.floor(rand() * 30 * DAY)));
      const id = randomUUID();
      appointmentIds.push(id);
      rows.appointments.push([
        id,
        companyId,
        customerIds[Math.floor(rand() ** 1.5 * nCustomers)],
        serviceIds[k],
        staffIds[j],
        staffBranch[j],
        source === 'phone' && callIds.length ? pick(rand, callIds) : null,
        start,
        new Date(startMs + svc.duration * MINUTE),
        status,
        source,
        source === 'calcom' ? `cal_${ci}_${id}` : null,
        rand() < 0.2 ? 'Prefers a window seat' : null,
        svc.price,
        svc.buffer,
        status === 'confirmed' ? created : null,
        status === 'cancelled' ? created : null,
        status === 'cancelled' ? 'customer' : null,
        status === 'cancelled' ? 'Could not make it' : null,
        created,
        created,
      ]);
    }

    users.push({
      id: randomUUID(),
      company_id: companyId,
      email: `admin@${slug}.test`,
      name: `Admin ${ci}`,
      password_hash: passwordHash,
      roles: ['admin'],
    });

    if (ci === 0) {
      rows.policy_configurations.push([
        randomUUID(),
        companyId,
        'booking',
        JSON.stringify({ horizonDays: BENCH_HORIZON_DAYS }),
        true,
      ]);
      const sampleIdx = Array.from({ length: Math.min(200, nCustomers) }, () =>
        Math.floor(rand() * nCustomers),
      );
      const prefixes = new Set<string>();
      for (const i of sampleIdx) prefixes.add(customerNames[i].slice(0, 2).toLowerCase());
      bench = {
        id: companyId,
        slug,
        adminEmail: `admin@${slug}.test`,
        branchIds,
        staffIds,
        serviceIds,
        bookingServiceId: serviceIds[0],
        bookingServiceName: SERVICES[0].name,
        retellAgentId,
        phoneNumber,
        appointmentIds: sampleOf(rand, appointmentIds, 500),
        customerIds: sampleIdx.map((i) => customerIds[i]),
        customerPhones: sampleIdx.map((i) => customerPhones[i]),
        namePrefixes: [...prefixes].slice(0, 20),
        counts: { appointments: nAppts, customers: nCustomers, calls: nCalls, staff: nStaff },
      };
    }
  }

  const totals: Record<string, number> = {};
  await knex.transaction(async (trx) => {
    const ins = async (table: string, spec: string) => {
      const columns = spec.split(' ').map((c) => c.split(':') as [string, ColumnType]);
      totals[table] = await bulkInsert(trx, table, columns, rows[table], chunk);
    };
    await ins(
      'companies',
      'id:uuid name:text slug:citext timezone:text default_region:text currency:text',
    );
    await ins('branches', 'id:uuid company_id:uuid name:text address:text timezone:text');
    await ins('staff', 'id:uuid company_id:uuid name:text email:citext branch_id:uuid color:text');
    await ins('service_categories', 'id:uuid company_id:uuid name:text sort_order:int');
    await ins(
      'services',
      'id:uuid company_id:uuid name:text duration_minutes:int buffer_minutes:int price_cents:int category_id:uuid',
    );
    await ins('staff_services', 'id:uuid company_id:uuid staff_id:uuid service_id:uuid');
    await ins(
      'working_hours',
      'id:uuid company_id:uuid staff_id:uuid branch_id:uuid weekday:smallint starts_at:time ends_at:time',
    );
    await ins(
      'time_off',
      'id:uuid company_id:uuid staff_id:uuid starts_at:timestamptz ends_at:timestamptz reason:text',
    );
    await ins(
      'customers',
      'id:uuid company_id:uuid name:text phone_e164:text email:citext preferred_language:text archived_at:timestamptz created_at:timestamptz updated_at:timestamptz',
    );
    await ins(
      'retell_agents',
      'id:uuid company_id:uuid agent_id:text name:text active:bool branch_id:uuid',
    );
    await ins(
      'phone_numbers',
      'id:uuid company_id:uuid number_e164:text label:text active:bool branch_id:uuid retell_agent_id:uuid',
    );
    await ins(
      'calls',
      'id:uuid company_id:uuid retell_call_id:text direction:text status:text from_number:text to_number:text started_at:timestamptz ended_at:timestamptz duration_ms:int summary:text sentiment:text call_successful:bool outcome:text phone_number_id:uuid retell_agent_id:uuid customer_id:uuid created_at:timestamptz updated_at:timestamptz',
    );
    await ins(
      'callback_requests',
      'id:uuid company_id:uuid phone_e164:text name:text reason:text priority:text status:text due_at:timestamptz customer_id:uuid call_id:uuid created_at:timestamptz updated_at:timestamptz',
    );
    await ins(
      'appointments',
      'id:uuid company_id:uuid customer_id:uuid service_id:uuid staff_id:uuid branch_id:uuid call_id:uuid starts_at:timestamptz ends_at:timestamptz status:text source:text calcom_booking_uid:text notes:text price_cents:int buffer_minutes:int confirmed_at:timestamptz cancelled_at:timestamptz cancelled_by:text cancellation_reason:text created_at:timestamptz updated_at:timestamptz',
    );
    await ins(
      'policy_configurations',
      'id:uuid company_id:uuid policy_type:text config:jsonb active:bool',
    );
    for (let i = 0; i < users.length; i += 500) await trx('users').insert(users.slice(i, i + 500));
    totals.users = users.length;
  });
  // Planner statistics for the new rows; without them the plans would be guesses.
  await knex.raw('analyze');
  return {
    scale,
    companies: nCompanies,
    totals,
    bench: bench!,
    seconds: (Date.now() - started) / 1000,
  };
}

function sampleOf<T>(rand: () => number, list: T[], n: number): T[] {
  if (list.length <= n) return [...list];
  return Array.from({ length: n }, () => list[Math.floor(rand() * list.length)]);
}
