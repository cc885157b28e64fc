import type { Knex } from 'knex';
import { isValidPhoneNumber } from 'libphonenumber-js';
import { DateTime } from 'luxon';
import type { ModelClass, PartialModelObject } from 'objection';
import { hashPassword } from '../auth/password';
import type { Database } from '../db/database';
import type { AppointmentSource, AppointmentStatus, UserRole } from '../domain/enums';
import {
  ActivityLog,
  Appointment,
  Branch,
  CalcomTeamMember,
  Call,
  CallbackRequest,
  Customer,
  CustomerNote,
  PhoneNumber,
  PolicyConfiguration,
  RetellAgent,
  Service,
  ServiceCategory,
  Staff,
  StaffService,
  TeamEventTypeMapping,
  TenantModel,
  TimeOff,
  User,
  UserPreference,
  WorkingHour,
} from '../models';
import { inTenantTransaction } from '../tenancy/tenant-binding';
import { DEMO_COMPANIES, PLATFORM_ADMIN, type CompanyPlan, type StaffPlan } from './demo-companies';
import { createRandom, type Random } from './random';

/**
 * Demo data for a fresh installation: three companies of uneven size, each with branches, staff,
 * services, schedules, customers, calls, appointments, policies and users, plus one platform
 * operator. It is generated from a fixed seed, so every run produces the same data relative to
 * the day it runs on (appointments sit around "now", so the calendar always has a past and a
 * future). Companies are created as the schema owner, because the runtime role cannot; every
 * tenant row is written through the models in the company's tenant transaction, as the server
 * itself writes them.
 */

export const DEMO_PASSWORD = 'demo-password';

export interface DemoUser {
  email: string;
  name: string;
  role: 'super_admin' | UserRole;
  companyName: string | null;
  companySlug: string | null;
}

/** Every demo login; all use DEMO_PASSWORD. */
export const DEMO_USERS: readonly DemoUser[] = Object.freeze([
  {
    email: PLATFORM_ADMIN.email,
    name: PLATFORM_ADMIN.name,
    role: 'super_admin' as const,
    companyName: null,
    companySlug: null,
  },
  ...DEMO_COMPANIES.flatMap((company) =>
    company.users.map((user) => ({
      email: user.email,
      name: user.name,
      role: user.roles[0],
      companyName: company.name,
      companySlug: company.slug,
    })),
  ),
]);

/** The demo users as lines for a start banner or a README. */
export function demoUserLines(): string[] {
  const width = Math.max(...DEMO_USERS.map((u) => u.email.length)) + 2;
  return DEMO_USERS.map((u) =>
    u.role === 'super_admin'
      ? `${u.email.padEnd(width)}super admin (choose a company with the X-Company-Id header)`
      : `${u.email.padEnd(width)}${u.role} of ${u.companyName}`,
  );
}

export interface SeedLogger {
  info(obj: object, msg?: string): void;
}

export interface SeedOptions {
  /** The moment the data is arranged around; defaults to the current time. */
  now?: Date;
}

export interface SeedSummary {
  seeded: boolean;
  companies: number;
  users: number;
  customers: number;
  appointments: number;
  calls: number;
  durationMs: number;
}

const SEED = 20261126;
// Any fixed number; serialises concurrent seeds on one Postgres so only one of them inserts.
const SEED_LOCK_KEY = 7_242_026;

export interface DemoPlan {
  platformAdminId: string;
  companies: ReadonlyArray<{ id: string; plan: CompanyPlan; data: DemoCompanyData }>;
}

/**
 * All demo rows, arranged around `now`, without touching a database. Users get the password
 * hash given for their email (the seed hashes DEMO_PASSWORD once per user).
 */
export function planDemoData(
  now: Date,
  passwordHashes: ReadonlyMap<string, string> = new Map(),
): DemoPlan {
  const rnd = createRandom(SEED);
  const ids = DEMO_COMPANIES.map(() => rnd.uuid());
  const platformAdminId = rnd.uuid();
  return {
    platformAdminId,
    companies: DEMO_COMPANIES.map((plan, i) => ({
      id: ids[i],
      plan,
      data: buildCompany(plan, rnd, now, passwordHashes),
    })),
  };
}

const notSeeded = (started: number): SeedSummary => ({
  seeded: false,
  companies: 0,
  users: 0,
  customers: 0,
  appointments: 0,
  calls: 0,
  durationMs: Math.round(performance.now() - started),
});

/**
 * Seeds the demo data when the database has no company yet; otherwise does nothing. A seed that
 * fails part-way removes the companies it created, so the next start tries again from scratch.
 */
export async function seedDemoData(
  db: Database,
  logger?: SeedLogger,
  options: SeedOptions = {},
): Promise<SeedSummary> {
  const started = performance.now();
  const hasCompanies = async (owner: Knex) => (await owner('companies').first('id')) !== undefined;
  // The common case on a server start: already seeded, answered without hashing anything.
  if (await db.withOwner(hasCompanies)) {
    logger?.info({}, 'demo data not seeded: the database already has companies');
    return notSeeded(started);
  }

  const emails = [
    PLATFORM_ADMIN.email,
    ...DEMO_COMPANIES.flatMap((c) => c.users.map((u) => u.email)),
  ];
  const hashes = new Map(
    await Promise.all(
      emails.map(async (email) => [email, await hashPassword(DEMO_PASSWORD)] as const),
    ),
  );
  const { platformAdminId, companies } = planDemoData(options.now ?? new Date(), hashes);
  const companyIds = companies.map((c) => c.id);

  const created = await db.withOwner((owner) =>
    owner.transaction(async (trx) => {
      if (db.kind === 'postgres') await trx.raw('select pg_advisory_xact_lock(?)', [SEED_LOCK_KEY]);
      if (await hasCompanies(trx)) return false;
      await trx('companies').insert(
        companies.map(({ id, plan }) => ({
          id,
          name: plan.name,
          slug: plan.slug,
          timezone: plan.timezone,
          default_region: plan.region,
          currency: plan.currency,
        })),
      );
      await trx('platform_admins')
        .insert({
          id: platformAdminId,
          email: PLATFORM_ADMIN.email,
          name: PLATFORM_ADMIN.name,
          password_hash: hashes.get(PLATFORM_ADMIN.email),
        })
        .onConflict('email')
        .ignore();
      return true;
    }),
  );
  if (!created) {
    logger?.info({}, 'demo data not seeded: the database already has companies');
    return notSeeded(started);
  }

  const totals = { users: 1, customers: 0, appointments: 0, calls: 0 };
  try {
    for (const { id, data } of companies) {
      await inTenantTransaction(db.knex, id, (trx) => insertCompany(trx, data));
      totals.users += data.users.length;
      totals.customers += data.customers.length;
      totals.appointments += data.appointments.length;
      totals.calls += data.calls.length;
    }
  } catch (err) {
    await db.withOwner(async (owner) => {
      await owner('companies').whereIn('id', companyIds).delete();
      await owner('platform_admins').where({ id: platformAdminId }).delete();
    });
    throw err;
  }
  const summary: SeedSummary = {
    seeded: true,
    companies: companies.length,
    ...totals,
    durationMs: Math.round(performance.now() - started),
  };
  logger?.info({ ...summary }, 'demo data seeded');
  return summary;
}

type Row<M extends TenantModel> = PartialModelObject<M> & { id: string };

export interface DemoCompanyData {
  branches: Row<Branch>[];
  staff: Row<Staff>[];
  categories: Row<ServiceCategory>[];
  services: Row<Service>[];
  staffServices: Row<StaffService>[];
  workingHours: Row<WorkingHour>[];
  timeOff: Row<TimeOff>[];
  users: Row<User>[];
  preferences: Row<UserPreference>[];
  customers: Row<Customer>[];
  notes: Row<CustomerNote>[];
  agents: Row<RetellAgent>[];
  numbers: Row<PhoneNumber>[];
  calls: Row<Call>[];
  appointments: Row<Appointment>[];
  policies: Row<PolicyConfiguration>[];
  callbacks: Row<CallbackRequest>[];
  activity: Row<ActivityLog>[];
  eventTypes: Row<TeamEventTypeMapping>[];
  members: Row<CalcomTeamMember>[];
}

async function insertAll<M extends TenantModel>(
  trx: Knex.Transaction,
  model: ModelClass<M>,
  rows: PartialModelObject<M>[],
): Promise<void> {
  if (rows.length > 0) await model.query(trx).insert(rows);
}

/** Batched: one INSERT per table, in the order the foreign keys need. */
async function insertCompany(trx: Knex.Transaction, d: DemoCompanyData): Promise<void> {
  await insertAll(trx, Branch, d.branches);
  await insertAll(trx, Staff, d.staff);
  await insertAll(trx, ServiceCategory, d.categories);
  await insertAll(trx, Service, d.services);
  await insertAll(trx, StaffService, d.staffServices);
  await insertAll(trx, WorkingHour, d.workingHours);
  await insertAll(trx, TimeOff, d.timeOff);
  await insertAll(trx, User, d.users);
  await insertAll(trx, UserPreference, d.preferences);
  await insertAll(trx, Customer, d.customers);
  await insertAll(trx, CustomerNote, d.notes);
  await insertAll(trx, RetellAgent, d.agents);
  await insertAll(trx, PhoneNumber, d.numbers);
  await insertAll(trx, Call, d.calls);
  await insertAll(trx, Appointment, d.appointments);
  await insertAll(trx, PolicyConfiguration, d.policies);
  await insertAll(trx, CallbackRequest, d.callbacks);
  await insertAll(trx, ActivityLog, d.activity);
  await insertAll(trx, TeamEventTypeMapping, d.eventTypes);
  await insertAll(trx, CalcomTeamMember, d.members);
}

const ASCII: Record<string, string> = { ä: 'ae', ö: 'oe', ü: 'ue', ß: 'ss', é: 'e' };
const slugify = (s: string) =>
  s
    .toLowerCase()
    .replace(/[äöüßé]/g, (c) => ASCII[c])
    .replace(/[^a-z0-9]+/g, '');

function phoneNumber(rnd: Random, plan: CompanyPlan, used: Set<string>): string {
  for (let attempt = 0; attempt < 1000; attempt++) {
    let candidate = rnd.pick(plan.mobilePrefixes);
    for (let i = 0; i < plan.mobileDigits; i++) candidate += String(rnd.int(0, 9));
    if (!used.has(candidate) && isValidPhoneNumber(candidate)) {
      used.add(candidate);
      return candidate;
    }
  }
  throw new Error(`no free demo phone number for ${plan.slug}`);
}

const at = (day: DateTime, hhmm: string): DateTime => {
  const [hour, minute] = hhmm.split(':').map(Number);
  return day.set({ hour, minute, second: 0, millisecond: 0 });
};

const overlaps = (ranges: ReadonlyArray<readonly [number, number]>, from: number, to: number) =>
  ranges.some(([s, e]) => from < e && s < to);

interface Slot {
  staff: Row<Staff>;
  staffPlan: StaffPlan;
  service: Row<Service> & { durationMinutes: number; bufferMinutes: number; priceCents: number };
  start: DateTime;
}

const STATUS_PAST: ReadonlyArray<readonly [AppointmentStatus, number]> = [
  ['completed', 75],
  ['no_show', 8],
  ['cancelled', 17],
];
const STATUS_FUTURE: ReadonlyArray<readonly [AppointmentStatus, number]> = [
  ['confirmed', 50],
  ['scheduled', 40],
  ['cancelled', 10],
];

const CALL_OUTCOMES: ReadonlyArray<readonly [string, number]> = [
  ['information', 35],
  ['callback_requested', 25],
  ['no_action', 20],
  ['cancelled', 10],
  ['rescheduled', 10],
];

function buildCompany(
  plan: CompanyPlan,
  rnd: Random,
  nowDate: Date,
  hashes: ReadonlyMap<string, string>,
): DemoCompanyData {
  const zone = plan.timezone;
  const now = DateTime.fromJSDate(nowDate, { zone });
  const today = now.startOf('day');
  const english = plan.locale.startsWith('en');
  const d: DemoCompanyData = {
    branches: [],
    staff: [],
    categories: [],
    services: [],
    staffServices: [],
    workingHours: [],
    timeOff: [],
    users: [],
    preferences: [],
    customers: [],
    notes: [],
    agents: [],
    numbers: [],
    calls: [],
    appointments: [],
    policies: [],
    callbacks: [],
    activity: [],
    eventTypes: [],
    members: [],
  };

  const branchId = new Map<string, string>();
  for (const b of plan.branches) {
    const id = rnd.uuid();
    branchId.set(b.key, id);
    d.branches.push({ id, name: b.name, address: b.address, phoneE164: b.phone, timezone: zone });
  }

  const serviceByKey = new Map<string, Slot['service']>();
  plan.categories.forEach((category, sortOrder) => {
    const categoryId = rnd.uuid();
    d.categories.push({ id: categoryId, name: category.name, sortOrder });
    for (const s of category.services) {
      const row = {
        id: rnd.uuid(),
        name: s.name,
        durationMinutes: s.durationMinutes,
        bufferMinutes: s.bufferMinutes,
        priceCents: s.priceCents,
        currency: plan.currency,
        categoryId,
      };
      d.services.push(row);
      serviceByKey.set(s.key, row);
    }
  });

  const staffByKey = new Map<string, Row<Staff>>();
  const busy = new Map<string, Array<[number, number]>>();
  const away = new Map<string, Array<[number, number]>>();
  for (const s of plan.staff) {
    const id = rnd.uuid();
    const row: Row<Staff> = {
      id,
      name: s.name,
      email: s.email,
      color: s.color,
      branchId: branchId.get(s.branch)!,
    };
    d.staff.push(row);
    staffByKey.set(s.key, row);
    busy.set(id, []);
    away.set(id, []);
    for (const key of s.services) {
      d.staffServices.push({ id: rnd.uuid(), staffId: id, serviceId: serviceByKey.get(key)!.id });
    }
    for (const [weekday, ranges] of Object.entries(s.hours)) {
      for (const [startsAt, endsAt] of ranges) {
        d.workingHours.push({
          id: rnd.uuid(),
          staffId: id,
          branchId: row.branchId,
          weekday: Number(weekday),
          startsAt,
          endsAt,
        });
      }
    }
  }
  for (const t of plan.timeOff) {
    const staff = staffByKey.get(t.staff)!;
    const from = today.plus({ days: t.fromDay });
    const to = from.plus({ days: t.days });
    d.timeOff.push({
      id: rnd.uuid(),
      staffId: staff.id,
      startsAt: from.toJSDate(),
      endsAt: to.toJSDate(),
      reason: t.reason,
    });
    away.get(staff.id)!.push([from.toMillis(), to.toMillis()]);
  }

  const userByEmail = new Map<string, Row<User>>();
  for (const u of plan.users) {
    const row: Row<User> = {
      id: rnd.uuid(),
      email: u.email,
      name: u.name,
      passwordHash: hashes.get(u.email) ?? '',
      roles: [...u.roles],
      staffId: u.staff ? staffByKey.get(u.staff)!.id : null,
    };
    d.users.push(row);
    userByEmail.set(u.email, row);
    d.preferences.push({
      id: rnd.uuid(),
      userId: row.id,
      locale: plan.locale,
      timezone: zone,
      notifications: { email: true, sms: false, dailyDigest: u.roles.includes('admin') },
      ui: { theme: 'light', calendarView: u.roles.includes('staff') ? 'day' : 'week' },
    });
  }
  const admin = d.users.find((u) => (u.roles as string[]).includes('admin'))!;
  const officeUsers = d.users.filter((u) => !(u.roles as string[]).includes('staff'));

  // Customers: unique phone numbers (and emails) within the company.
  const usedPhones = new Set<string>(plan.branches.map((b) => b.phone));
  const usedEmails = new Set<string>();
  for (let i = 0; i < plan.counts.customers; i++) {
    const first = rnd.pick(plan.firstNames);
    const last = rnd.pick(plan.lastNames);
    let email: string | null = null;
    if (rnd.chance(0.7)) {
      const base = `${slugify(first)}.${slugify(last)}`;
      const domain = rnd.pick(['example.com', 'example.net', 'example.org']);
      email = `${base}@${domain}`;
      for (let n = 2; usedEmails.has(email); n++) email = `${base}${n}@${domain}`;
      usedEmails.add(email);
    }
    d.customers.push({
      id: rnd.uuid(),
      name: `${first} ${last}`,
      phoneE164: phoneNumber(rnd, plan, usedPhones),
      email,
      preferredLanguage: plan.locale.slice(0, 2),
      createdAt: now.minus({ days: rnd.int(60, 400), hours: rnd.int(0, 8) }).toJSDate(),
    });
  }
  for (const customer of d.customers) {
    if (!rnd.chance(0.3)) continue;
    d.notes.push({
      id: rnd.uuid(),
      customerId: customer.id,
      authorUserId: rnd.pick(officeUsers).id,
      body: rnd.pick(plan.noteTemplates),
      createdAt: now.minus({ days: rnd.int(1, 35) }).toJSDate(),
    });
  }

  for (const a of plan.agents) {
    const agentId = rnd.uuid();
    const branch = plan.branches.find((b) => b.key === a.branch)!;
    d.agents.push({
      id: agentId,
      agentId: a.agentId,
      name: a.name,
      branchId: branchId.get(a.branch)!,
    });
    d.numbers.push({
      id: rnd.uuid(),
      numberE164: branch.phone,
      label: english ? `${branch.name} front desk` : `${branch.name} Empfang`,
      branchId: branchId.get(a.branch)!,
      retellAgentId: agentId,
    });
  }

  const calcomServiceIds = new Set(
    plan.calcom?.eventTypes.map((e) => serviceByKey.get(e.service)!.id) ?? [],
  );
  for (const e of plan.calcom?.eventTypes ?? []) {
    d.eventTypes.push({
      id: rnd.uuid(),
      calcomEventTypeId: e.id,
      label: e.label,
      serviceId: serviceByKey.get(e.service)!.id,
    });
  }
  for (const m of plan.calcom?.members ?? []) {
    d.members.push({
      id: rnd.uuid(),
      calcomUserId: m.userId,
      email: m.email,
      staffId: staffByKey.get(m.staff)!.id,
    });
  }

  for (const p of plan.policies) {
    d.policies.push({
      id: rnd.uuid(),
      policyType: p.type,
      config: { ...p.config },
      active: true,
      branchId: p.branch ? branchId.get(p.branch)! : null,
      serviceId: p.service ? serviceByKey.get(p.service)!.id : null,
    });
  }

  // Appointments: placed on the staff member's working hours, never into their time off, and
  // never overlapping another appointment of theirs including the service's buffer.
  const staffPlans = plan.staff.map((p) => ({ plan: p, row: staffByKey.get(p.key)! }));
  const customerDays = new Set<string>();
  const place = (fromDay: number, toDay: number, future: boolean): Slot => {
    for (let attempt = 0; attempt < 20000; attempt++) {
      const day = today.plus({ days: rnd.int(fromDay, toDay) });
      const { plan: staffPlan, row: staff } = rnd.pick(staffPlans);
      const ranges = staffPlan.hours[day.weekday];
      if (!ranges) continue;
      const service = serviceByKey.get(rnd.pick(staffPlan.services))!;
      const [open, close] = rnd.pick(ranges);
      const first = at(day, open);
      const span = service.durationMinutes + service.bufferMinutes;
      const steps = Math.floor((at(day, close).diff(first, 'minutes').minutes - span) / 15);
      if (steps < 0) continue;
      const start = first.plus({ minutes: 15 * rnd.int(0, steps) });
      if (future ? start < now.plus({ minutes: 30 }) : start >= now) continue;
      const from = start.toMillis();
      const to = start.plus({ minutes: span }).toMillis();
      if (overlaps(busy.get(staff.id)!, from, to) || overlaps(away.get(staff.id)!, from, to))
        continue;
      busy.get(staff.id)!.push([from, to]);
      return { staff, staffPlan, service, start };
    }
    throw new Error(`no free slot left for a demo appointment of ${plan.slug}`);
  };

  const pastCount = Math.round(plan.counts.appointments * 0.6);
  const slots: Array<Slot & { future: boolean }> = [];
  for (let i = 0; i < plan.counts.appointments; i++) {
    const future = i >= pastCount;
    slots.push({ ...(future ? place(0, 21, true) : place(-35, -1, false)), future });
  }
  slots.sort((a, b) => a.start.toMillis() - b.start.toMillis());

  // Regular customers come more often: the draw favours the start of the list.
  const pickCustomer = (day: string): Row<Customer> => {
    for (let attempt = 0; attempt < 100; attempt++) {
      const index = Math.floor(d.customers.length * Math.pow(rnd.next(), 1.6));
      const customer = d.customers[index];
      if (!customerDays.has(`${customer.id}|${day}`)) {
        customerDays.add(`${customer.id}|${day}`);
        return customer;
      }
    }
    throw new Error(`no customer free on ${day} for ${plan.slug}`);
  };

  // Channels are drawn in random order, so the limit on phone bookings (each needs one of the
  // company's calls) does not use itself up on the oldest appointments.
  const phoneCap = Math.floor(plan.counts.calls * 0.6);
  let phoneBooked = 0;
  const channels: AppointmentSource[] = new Array<AppointmentSource>(slots.length);
  const order = slots.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = rnd.int(0, i);
    [order[i], order[j]] = [order[j], order[i]];
  }
  for (const i of order) {
    let source: AppointmentSource = rnd.weighted(plan.sources);
    if (source === 'calcom' && !calcomServiceIds.has(slots[i].service.id)) source = 'web';
    if (source === 'phone' && phoneBooked >= phoneCap) source = 'manual';
    if (source === 'phone') phoneBooked++;
    channels[i] = source;
  }
  const activityAt = (row: Row<ActivityLog>) => d.activity.push(row);
  const latest = (t: DateTime) => (t > now.minus({ minutes: 5 }) ? now.minus({ minutes: 5 }) : t);

  for (const [index, slot] of slots.entries()) {
    const customer = pickCustomer(slot.start.toISODate()!);
    const status = rnd.weighted(slot.future ? STATUS_FUTURE : STATUS_PAST);
    const source = channels[index];

    const createdAt = latest(slot.start.minus({ days: rnd.int(1, 20), hours: rnd.int(0, 6) }));
    const end = slot.start.plus({ minutes: slot.service.durationMinutes });
    const id = rnd.uuid();
    const row: Row<Appointment> = {
      id,
      customerId: customer.id,
      serviceId: slot.service.id,
      staffId: slot.staff.id,
      branchId: slot.staff.branchId ?? null,
      startsAt: slot.start.toJSDate(),
      endsAt: end.toJSDate(),
      status,
      source,
      priceCents: slot.service.priceCents,
      calcomBookingUid: source === 'calcom' ? `bk_${rnd.hex(22)}` : null,
      createdByUserId: source === 'manual' ? rnd.pick(officeUsers).id : null,
      notes: rnd.chance(0.15)
        ? english
          ? 'Customer asked for a reminder call.'
          : 'Bitte am Vortag erinnern.'
        : null,
      createdAt: createdAt.toJSDate(),
      confirmedAt:
        status === 'confirmed' || status === 'completed'
          ? latest(createdAt.plus({ hours: rnd.int(1, 30) })).toJSDate()
          : null,
    };
    if (status === 'cancelled') {
      const cancelledAt = latest(createdAt.plus({ hours: rnd.int(2, 72) }));
      // Written as the scheduling services write it: the acting channel, or the user at the desk.
      const cancelledBy = cancellerOf(source, admin.id);
      const reason = cancelledBy.startsWith('user:')
        ? english
          ? 'Mechanic unavailable'
          : 'Mitarbeiter:in verhindert'
        : rnd.pick(
            english
              ? ['Schedule conflict', 'Car not ready', 'Found another shop']
              : ['Terminkonflikt', 'Krank', 'Keine Zeit'],
          );
      row.cancelledAt = (
        cancelledAt < slot.start ? cancelledAt : slot.start.minus({ hours: 1 })
      ).toJSDate();
      row.cancelledBy = cancelledBy;
      row.cancellationReason = reason;
      activityAt({
        id: rnd.uuid(),
        actorType: cancelledBy.startsWith('user:') ? 'user' : cancelledBy,
        actorId: cancelledBy.startsWith('user:') ? admin.id : null,
        action: 'appointment.cancelled',
        subjectType: 'appointment',
        subjectId: id,
        reason,
        details: { startsAt: slot.start.toISO(), source },
        createdAt: row.cancelledAt,
      });
    }
    if (source === 'phone') {
      const callStart = createdAt.minus({ minutes: rnd.int(2, 6) });
      const call = makeCall(rnd, plan, d, {
        start: callStart,
        outcome: 'booked',
        customer,
        toNumber: numberFor(d, slot.staff.branchId as string),
      });
      row.callId = call.id;
      activityAt({
        id: rnd.uuid(),
        actorType: 'voice_agent',
        action: 'appointment.booked',
        subjectType: 'appointment',
        subjectId: id,
        details: { callId: call.id, startsAt: slot.start.toISO() },
        createdAt: createdAt.toJSDate(),
      });
    } else if (source === 'manual') {
      activityAt({
        id: rnd.uuid(),
        actorType: 'user',
        actorId: row.createdByUserId ?? null,
        action: 'appointment.booked',
        subjectType: 'appointment',
        subjectId: id,
        details: { startsAt: slot.start.toISO() },
        createdAt: createdAt.toJSDate(),
      });
    }
    d.appointments.push(row);
  }

  // A few bookings were moved: the original is cancelled and the new one points back to it.
  const movable = d.appointments.filter(
    (a) =>
      a.status !== 'cancelled' && (a.startsAt as Date) > now.toJSDate() && !a.rescheduledFromId,
  );
  const pairs = Math.floor(plan.counts.appointments / 25);
  for (let i = 0; i + 1 < movable.length && i < pairs * 2; i += 2) {
    const [moved, original] = [movable[i + 1], movable[i]];
    const service = d.services.find((s) => s.id === moved.serviceId)!;
    original.customerId = moved.customerId;
    // The call that booked the original came from the same customer.
    const originalCall = d.calls.find((c) => c.id === original.callId);
    if (originalCall) {
      const customer = d.customers.find((c) => c.id === moved.customerId)!;
      originalCall.customerId = customer.id;
      originalCall.fromNumber = customer.phoneE164 as string;
    }
    original.serviceId = moved.serviceId;
    original.staffId = moved.staffId;
    original.branchId = moved.branchId;
    original.endsAt = DateTime.fromJSDate(original.startsAt as Date)
      .plus({ minutes: service.durationMinutes as number })
      .toJSDate();
    original.status = 'cancelled';
    original.confirmedAt = null;
    original.cancelledAt = moved.createdAt as Date;
    original.createdAt = new Date(
      Math.min(
        (original.createdAt as Date).getTime(),
        (moved.createdAt as Date).getTime() - 86_400_000,
      ),
    );
    original.cancelledBy = cancellerOf(moved.source as AppointmentSource, admin.id);
    original.cancellationReason = english ? 'Rescheduled' : 'Verschoben';
    moved.rescheduledFromId = original.id;
    moved.rescheduleCount = 1;
    activityAt({
      id: rnd.uuid(),
      actorType: moved.source === 'phone' ? 'voice_agent' : 'system',
      action: 'appointment.rescheduled',
      subjectType: 'appointment',
      subjectId: moved.id,
      details: { from: original.id },
      createdAt: moved.createdAt as Date,
    });
  }

  // The other calls: questions, callback requests, hang-ups, changes by phone.
  const windowStart = today.minus({ days: 35 });
  while (d.calls.length < plan.counts.calls) {
    const known = rnd.chance(0.7);
    const customer = known ? rnd.pick(d.customers) : null;
    const day = windowStart.plus({ days: rnd.int(0, 35) });
    // The agent also answers evenings and weekends, when nobody else is there.
    const start = latest(
      rnd.chance(0.75)
        ? at(day, '08:00').plus({ minutes: rnd.int(0, 10 * 60) })
        : at(day, '18:00').plus({ minutes: rnd.int(0, 4 * 60) }),
    );
    const outcome = rnd.weighted(CALL_OUTCOMES);
    const call = makeCall(rnd, plan, d, {
      start,
      outcome,
      customer,
      unknownNumber: customer ? undefined : phoneNumber(rnd, plan, usedPhones),
      toNumber: rnd.pick(d.numbers).numberE164 as string,
    });
    if (call.outcome === 'callback_requested') {
      d.callbacks.push(makeCallback(rnd, plan, d, call, customer, now));
    }
  }
  d.calls.sort((a, b) => (a.startedAt as Date).getTime() - (b.startedAt as Date).getTime());

  d.activity.push({
    id: rnd.uuid(),
    actorType: 'system',
    action: 'company.seeded',
    subjectType: 'company',
    details: {
      appointments: d.appointments.length,
      customers: d.customers.length,
      calls: d.calls.length,
    },
    createdAt: now.toJSDate(),
  });
  for (const user of officeUsers) {
    d.activity.push({
      id: rnd.uuid(),
      actorType: 'user',
      actorId: user.id,
      action: 'auth.login',
      subjectType: 'user',
      subjectId: user.id,
      ip: '203.0.113.' + rnd.int(1, 254),
      createdAt: now.minus({ hours: rnd.int(1, 72) }).toJSDate(),
    });
  }
  return d;
}

function cancellerOf(source: AppointmentSource, adminId: string): string {
  if (source === 'phone') return 'voice_agent';
  if (source === 'calcom') return 'webhook';
  return `user:${adminId}`;
}

function numberFor(d: DemoCompanyData, branchId: string | null): string {
  const match = d.numbers.find((n) => n.branchId === branchId) ?? d.numbers[0];
  return match.numberE164 as string;
}

const SUMMARIES: Record<string, [string, string]> = {
  booked: ['Caller booked an appointment.', 'Anrufer:in hat einen Termin gebucht.'],
  information: [
    'Caller asked about opening hours and prices.',
    'Frage zu Öffnungszeiten und Preisen.',
  ],
  callback_requested: ['Caller asked to be called back.', 'Bitte um Rückruf.'],
  no_action: [
    'Caller hung up before stating a request.',
    'Anrufer:in hat ohne Anliegen aufgelegt.',
  ],
  cancelled: ['Caller cancelled an appointment.', 'Termin wurde telefonisch abgesagt.'],
  rescheduled: ['Caller moved an appointment.', 'Termin wurde telefonisch verschoben.'],
};

function makeCall(
  rnd: Random,
  plan: CompanyPlan,
  d: DemoCompanyData,
  input: {
    start: DateTime;
    outcome: string;
    customer: Row<Customer> | null;
    unknownNumber?: string;
    toNumber: string;
  },
): Row<Call> {
  const english = plan.locale.startsWith('en');
  const failed = input.outcome !== 'booked' && rnd.chance(0.06);
  const status = failed ? rnd.pick(['not_connected', 'error']) : 'ended';
  const durationMs = status === 'ended' ? rnd.int(35, 380) * 1000 : 0;
  const number = d.numbers.find((n) => n.numberE164 === input.toNumber)!;
  const outcome = status === 'ended' ? input.outcome : null;
  const summary = outcome ? SUMMARIES[outcome][english ? 0 : 1] : null;
  const call: Row<Call> = {
    id: rnd.uuid(),
    retellCallId: `call_${rnd.hex(24)}`,
    direction: 'inbound',
    status,
    fromNumber: input.customer
      ? (input.customer.phoneE164 as string)
      : (input.unknownNumber ?? null),
    toNumber: input.toNumber,
    startedAt: input.start.toJSDate(),
    endedAt: input.start.plus({ milliseconds: durationMs }).toJSDate(),
    durationMs,
    transcript: summary
      ? english
        ? `Agent: Thanks for calling ${plan.name}, how can I help?\nCaller: ${summary}`
        : `Agent: ${plan.name}, guten Tag, wie kann ich helfen?\nAnrufer:in: ${summary}`
      : null,
    summary,
    sentiment: outcome
      ? outcome === 'no_action'
        ? 'unknown'
        : rnd.weighted([
            ['positive', 55],
            ['neutral', 35],
            ['negative', 10],
          ] as const)
      : null,
    callSuccessful: outcome ? outcome !== 'no_action' : false,
    disconnectionReason:
      status === 'ended'
        ? rnd.pick(['user_hangup', 'agent_hangup'])
        : status === 'error'
          ? 'error_llm_websocket_open'
          : 'dial_no_answer',
    recordingUrl:
      status === 'ended' ? `https://recordings.example/${plan.slug}/${rnd.hex(16)}.wav` : null,
    costCents: Math.round((durationMs / 60000) * 9),
    outcome,
    metadata: { language: plan.locale },
    phoneNumberId: number.id,
    retellAgentId: number.retellAgentId ?? null,
    customerId: input.customer?.id ?? null,
    createdAt: input.start.toJSDate(),
  };
  d.calls.push(call);
  return call;
}

function makeCallback(
  rnd: Random,
  plan: CompanyPlan,
  d: DemoCompanyData,
  call: Row<Call>,
  customer: Row<Customer> | null,
  now: DateTime,
): Row<CallbackRequest> {
  const english = plan.locale.startsWith('en');
  const start = DateTime.fromJSDate(call.startedAt as Date, { zone: plan.timezone });
  const priority = rnd.weighted([
    ['low', 15],
    ['normal', 55],
    ['high', 22],
    ['urgent', 8],
  ] as const);
  const due = start.plus({ hours: priority === 'urgent' ? 2 : priority === 'high' ? 4 : 24 });
  const ageDays = now.diff(start, 'days').days;
  const status =
    ageDays > 5
      ? rnd.weighted([
          ['done', 70],
          ['expired', 15],
          ['contacted', 15],
        ] as const)
      : rnd.weighted([
          ['pending', 55],
          ['assigned', 30],
          ['contacted', 15],
        ] as const);
  const staff = status === 'pending' ? null : rnd.pick(d.staff);
  const nextDay = start.plus({ days: 1 }).startOf('day');
  const contactedAt = ['contacted', 'done'].includes(status)
    ? start.plus({ hours: rnd.int(1, 20) })
    : null;
  return {
    id: rnd.uuid(),
    phoneE164: call.fromNumber as string,
    name: customer ? (customer.name as string) : null,
    reason: rnd.pick(
      english
        ? [
            'Wants a quote for a repair',
            'Question about an invoice',
            'Wants to talk to the mechanic',
          ]
        : ['Frage zur Rechnung', 'Möchte persönlich beraten werden', 'Rückfrage zu einem Termin'],
    ),
    preferredTimes: [
      { from: at(nextDay, '09:00').toISO()!, to: at(nextDay, '12:00').toISO()! },
      english ? 'after 5 pm' : 'nach 17 Uhr',
    ],
    priority,
    status,
    dueAt: due.toJSDate(),
    contactedAt: contactedAt && contactedAt < now ? contactedAt.toJSDate() : null,
    completedAt:
      status === 'done' && contactedAt ? contactedAt.plus({ minutes: 10 }).toJSDate() : null,
    resolution:
      status === 'done'
        ? english
          ? 'Called back, question answered.'
          : 'Zurückgerufen, Anliegen geklärt.'
        : null,
    customerId: customer?.id ?? null,
    callId: call.id,
    assignedStaffId: staff?.id ?? null,
    createdAt: call.endedAt as Date,
  };
}
