import type { Knex } from 'knex';
import type { RequestContext } from '../context/request-context';
import { AppError } from '../errors/app-error';
import { Appointment, Branch, Service, Staff, TimeOff, WorkingHour } from '../models';
import { loadEffectivePolicies, type EffectivePolicy, type PolicyType } from './policies';
import type { BusyInterval, StaffSchedule, WorkingHourRule } from './slots';
import { badInput, notFound } from '../errors/app-error';
import { companySettings, type CompanySettings } from '../domain/companies/company-settings';
import { DAY_MS, dayNumberToDate, isValidZone, MINUTE_MS } from './time';

/**
 * Loading what availability needs with a fixed number of queries, whatever the number of days or
 * staff: the service, the company, its branches, the candidate staff, then working hours, time off
 * and appointments of all candidates at once, and the policies. The computation itself is pure
 * (slots.ts).
 */

export interface StaffCandidate {
  id: string;
  name: string;
  branchId: string | null;
}

export interface SchedulingScope {
  company: CompanySettings;
  service: Service;
  /** The requested branch, else the service's, else the named staff member's. */
  branchId: string | null;
  /** The IANA zone of that branch, else the company's. */
  timeZone: string;
  /** Staff who can perform the service there, by name. */
  candidates: StaffCandidate[];
  policies: { [K in PolicyType]?: EffectivePolicy<K> };
  zoneOfBranch(branchId: string | null | undefined): string;
  /** Working-hour rules per candidate, when the scope was loaded `withWorkingHours`. */
  workingHours?: Map<string, WorkingHourRule[]>;
}

export interface ScopeInput {
  serviceId: string;
  staffId?: string | null;
  branchId?: string | null;
  policyTypes: readonly PolicyType[];
  /** Existing appointments keep their archived service or staff member when moved. */
  allowArchived?: boolean;
  /** Read the candidates' working hours in the staff query (availability), not in one of its own. */
  withWorkingHours?: boolean;
}

/** A working-hours row as the staff query aggregates it (wall times and local dates as text). */
interface WorkingHourJson {
  weekday: number;
  startsAt: string;
  endsAt: string;
  validFrom: string | null;
  validUntil: string | null;
  branchId: string | null;
}

interface StaffRow extends Staff {
  performsService: boolean;
  serviceHasStaff: boolean;
  workingHours?: WorkingHourJson[];
}

/** Resolves service, branch, candidate staff and policies; 5 queries (4 when the company is cached). */
export async function loadScope(
  ctx: RequestContext,
  trx: Knex.Transaction,
  input: ScopeInput,
): Promise<SchedulingScope> {
  const service = await Service.query(trx).findById(input.serviceId);
  if (!service) throw notFound('Service', 'serviceId');
  if (service.archivedAt && !input.allowArchived) {
    throw badInput('serviceId', `The service "${service.name}" is no longer offered`);
  }
  const company = await companySettings(ctx, trx);
  // Companies have a handful of branches; reading them all keeps the query count fixed.
  const branches = await Branch.query(trx).select('id', 'name', 'timezone', 'archived_at');
  const byId = new Map(branches.map((b) => [b.id, b]));
  const zoneOfBranch = (id: string | null | undefined): string => {
    const tz = id ? byId.get(id)?.timezone : null;
    return tz && isValidZone(tz) ? tz : company.timezone;
  };

  if (input.branchId) {
    const branch = byId.get(input.branchId);
    if (!branch) throw notFound('Branch', 'branchId');
    if (branch.archivedAt && !input.allowArchived) {
      throw badInput('branchId', `The branch "${branch.name}" is closed`);
    }
    if (service.branchId && service.branchId !== input.branchId) {
      throw badInput('branchId', `The service "${service.name}" is not offered at this branch`);
    }
  }

  const staffQuery = Staff.query(trx)
    .select(
      'staff.id',
      'staff.name',
      'staff.branch_id',
      'staff.archived_at',
      trx.raw(
        `exists (select 1 from staff_services ss where ss.company_id = staff.company_id
                 and ss.staff_id = staff.id and ss.service_id = ?) as performs_service`,
        [service.id],
      ),
      trx.raw(
        `exists (select 1 from staff_services ss where ss.company_id = staff.company_id
                 and ss.service_id = ?) as service_has_staff`,
        [service.id],
      ),
    )
    .orderBy(['staff.name', 'staff.id']);
  if (input.withWorkingHours) {
    // Every row of the staff member: a handful per weekday; validity is applied per day in
    // workingWindows. One statement for staff and their hours instead of two.
    staffQuery.select(
      trx.raw(
        `(select coalesce(json_agg(json_build_object(
            'weekday', wh.weekday, 'startsAt', wh.starts_at, 'endsAt', wh.ends_at,
            'validFrom', wh.valid_from, 'validUntil', wh.valid_until, 'branchId', wh.branch_id)),
          '[]'::json)
          from working_hours wh where wh.company_id = staff.company_id and wh.staff_id = staff.id)
          as working_hours`,
      ),
    );
  }
  if (input.staffId) staffQuery.where('staff.id', input.staffId);
  else staffQuery.whereNull('staff.archived_at');
  const staffRows = (await staffQuery) as StaffRow[];

  const branchFilter = input.branchId ?? null;
  const eligible = (s: StaffRow): boolean => {
    if (branchFilter && s.branchId && s.branchId !== branchFilter) return false;
    if (s.performsService) return true;
    if (s.serviceHasStaff) return false;
    return !service.branchId || !s.branchId || s.branchId === service.branchId;
  };

  if (input.staffId) {
    const s = staffRows[0];
    if (!s) throw notFound('Staff member', 'staffId');
    if (s.archivedAt && !input.allowArchived) {
      throw badInput('staffId', `${s.name} no longer takes appointments`);
    }
    if (!eligible(s)) {
      throw badInput('staffId', `${s.name} does not offer "${service.name}" here`);
    }
  }
  const candidates = staffRows
    .filter(eligible)
    .map((s) => ({ id: s.id, name: s.name, branchId: s.branchId }));

  const branchId =
    input.branchId ??
    service.branchId ??
    (input.staffId ? (candidates[0]?.branchId ?? null) : null);
  const policies =
    input.policyTypes.length > 0
      ? await loadEffectivePolicies(trx, input.policyTypes, { branchId, serviceId: service.id })
      : {};
  const scope: SchedulingScope = {
    company,
    service,
    branchId,
    timeZone: zoneOfBranch(branchId),
    candidates,
    policies,
    zoneOfBranch,
  };
  if (input.withWorkingHours) {
    const byStaff = new Map(staffRows.map((s) => [s.id, s]));
    scope.workingHours = new Map(
      candidates.map((c) => [
        c.id,
        (byStaff.get(c.id)?.workingHours ?? []).map((h) =>
          workingHourRule(scope, c, {
            ...h,
            validFrom: h.validFrom?.slice(0, 10) ?? null,
            validUntil: h.validUntil?.slice(0, 10) ?? null,
          }),
        ),
      ]),
    );
  }
  return scope;
}

/** A stored working-hours row as a rule of the availability core, in its zone. */
function workingHourRule(
  scope: SchedulingScope,
  staff: StaffCandidate | undefined,
  h: Omit<WorkingHourJson, 'weekday'> & { weekday: number },
): WorkingHourRule {
  return {
    weekday: h.weekday,
    startsAt: h.startsAt,
    endsAt: h.endsAt,
    validFrom: h.validFrom,
    validUntil: h.validUntil,
    timeZone: scope.zoneOfBranch(h.branchId ?? staff?.branchId ?? scope.branchId),
  };
}

/**
 * The busy intervals (appointments with their buffers, time off) of the candidates that matter for
 * slots starting in [from, to) with the given length: one statement, reading only that window
 * through the (company_id, staff_id, starts_at) indexes, whatever the company's history.
 */
export async function loadBusy(
  trx: Knex.Transaction,
  staffIds: readonly string[],
  range: { from: Date; to: Date; occupiedMinutes: number },
): Promise<Map<string, BusyInterval[]>> {
  const busy = new Map<string, BusyInterval[]>(staffIds.map((id) => [id, []]));
  if (staffIds.length === 0) return busy;
  const fromMs = range.from.getTime();
  const busyFrom = new Date(fromMs);
  const busyTo = new Date(range.to.getTime() + range.occupiedMinutes * MINUTE_MS);
  const timeOff = TimeOff.query(trx)
    .select(
      trx.raw(`'time_off' as kind`),
      'time_off.id',
      'time_off.staff_id',
      'time_off.starts_at',
      trx.raw('time_off.ends_at as busy_until'),
    )
    .whereIn('time_off.staff_id', staffIds)
    .where('time_off.starts_at', '<', busyTo)
    .where('time_off.ends_at', '>', busyFrom);
  // An appointment reaches at most a day plus the longest buffer past its start (service limits).
  const rows = (await Appointment.query(trx)
    .select(
      trx.raw(`'appointment' as kind`),
      'appointments.id',
      'appointments.staff_id',
      'appointments.starts_at',
      trx.raw('app_plus_minutes(appointments.ends_at, appointments.buffer_minutes) as busy_until'),
    )
    .whereIn('appointments.staff_id', staffIds)
    .whereNot('appointments.status', 'cancelled')
    .where('appointments.starts_at', '<', busyTo)
    .where('appointments.starts_at', '>', new Date(fromMs - (1440 + 240) * MINUTE_MS))
    .whereRaw('app_plus_minutes(appointments.ends_at, appointments.buffer_minutes) > ?', [busyFrom])
    .unionAll(timeOff, true)) as unknown as {
    kind: 'appointment' | 'time_off';
    id: string;
    staffId: string;
    startsAt: Date;
    busyUntil: Date;
  }[];
  for (const r of rows) {
    busy.get(r.staffId)?.push({ start: r.startsAt, end: r.busyUntil, kind: r.kind, id: r.id });
  }
  return busy;
}

export interface LoadedSchedules {
  schedules: Map<string, StaffSchedule>;
  /** Appointments per staff member starting in [from, to), to spread bookings evenly. */
  appointmentCounts: Map<string, number>;
}

/**
 * Working hours, time off and appointments of the candidates that matter for slots starting in
 * [from, to) with the given length; 3 queries.
 */
export async function loadSchedules(
  trx: Knex.Transaction,
  scope: SchedulingScope,
  range: { from: Date; to: Date; occupiedMinutes: number; excludeAppointmentId?: string },
): Promise<LoadedSchedules> {
  const schedules = new Map<string, StaffSchedule>();
  const appointmentCounts = new Map<string, number>();
  const staffIds = scope.candidates.map((c) => c.id);
  if (staffIds.length === 0) return { schedules, appointmentCounts };

  const fromMs = range.from.getTime();
  const toMs = range.to.getTime();
  const busyFrom = new Date(fromMs);
  const busyTo = new Date(toMs + range.occupiedMinutes * MINUTE_MS);
  // Validity dates are local; a two-day margin covers every offset.
  const firstDate = dayNumberToDate(Math.floor(fromMs / DAY_MS) - 2);
  const lastDate = dayNumberToDate(Math.floor(toMs / DAY_MS) + 2);

  const hours = await WorkingHour.query(trx)
    .select(
      'staff_id',
      'branch_id',
      'weekday',
      'starts_at',
      'ends_at',
      trx.raw('valid_from::text as valid_from'),
      trx.raw('valid_until::text as valid_until'),
    )
    .whereIn('staff_id', staffIds)
    .where((q) => q.whereNull('valid_from').orWhere('valid_from', '<=', lastDate))
    .where((q) => q.whereNull('valid_until').orWhere('valid_until', '>=', firstDate));

  const timeOff = await TimeOff.query(trx)
    .select('id', 'staff_id', 'starts_at', 'ends_at')
    .whereIn('staff_id', staffIds)
    .where('starts_at', '<', busyTo)
    .where('ends_at', '>', busyFrom);

  // An appointment reaches at most a day plus the longest buffer past its start (service limits).
  const appointmentsQuery = Appointment.query(trx)
    .select('id', 'staff_id', 'starts_at', 'ends_at', 'buffer_minutes')
    .whereIn('staff_id', staffIds)
    .whereNot('status', 'cancelled')
    .where('starts_at', '<', busyTo)
    .where('starts_at', '>', new Date(fromMs - (1440 + 240) * MINUTE_MS))
    .whereRaw('app_plus_minutes(ends_at, buffer_minutes) > ?', [busyFrom]);
  if (range.excludeAppointmentId) {
    appointmentsQuery.whereNot('appointments.id', range.excludeAppointmentId);
  }
  const appointments = await appointmentsQuery;

  const byStaff = new Map(scope.candidates.map((c) => [c.id, c]));
  for (const c of scope.candidates) {
    schedules.set(c.id, { staffId: c.id, workingHours: [], busy: [] });
    appointmentCounts.set(c.id, 0);
  }
  for (const h of hours) {
    const rule = workingHourRule(scope, byStaff.get(h.staffId), h);
    (schedules.get(h.staffId)?.workingHours as WorkingHourRule[] | undefined)?.push(rule);
  }
  for (const t of timeOff) {
    const busy: BusyInterval = { start: t.startsAt, end: t.endsAt, kind: 'time_off', id: t.id };
    (schedules.get(t.staffId)?.busy as BusyInterval[] | undefined)?.push(busy);
  }
  for (const a of appointments) {
    if (!a.staffId) continue;
    const end = new Date(a.endsAt.getTime() + a.bufferMinutes * MINUTE_MS);
    (schedules.get(a.staffId)?.busy as BusyInterval[] | undefined)?.push({
      start: a.startsAt,
      end,
      kind: 'appointment',
      id: a.id,
    });
    const starts = a.startsAt.getTime();
    if (starts >= fromMs && starts < toMs) {
      appointmentCounts.set(a.staffId, (appointmentCounts.get(a.staffId) ?? 0) + 1);
    }
  }
  return { schedules, appointmentCounts };
}

/** A scope with no candidates cannot be booked at all. */
export function noStaffError(scope: SchedulingScope): AppError {
  return badInput('serviceId', `No staff member currently offers "${scope.service.name}"`);
}
