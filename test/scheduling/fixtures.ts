import { randomUUID } from 'node:crypto';
import type { Actor } from '../../src/context/actor';
import type { AppDeps } from '../../src/context/deps';
import { RequestContext } from '../../src/context/request-context';
import { createTestDatabase, type TestDatabase } from '../helpers/pg';
import { testDeps } from '../helpers/deps';
import { insertCompany } from '../helpers/world';

/**
 * Test data for the scheduling suites, written through the superuser connection (set-up only; the
 * code under test always runs in a tenant transaction as the runtime role).
 */

export interface World {
  t: TestDatabase;
  deps: AppDeps;
}

export async function createWorld(): Promise<World> {
  const t = await createTestDatabase();
  const deps: AppDeps = testDeps(t.db);
  return { t, deps };
}

export interface HoursRow {
  weekday: number;
  startsAt: string;
  endsAt: string;
  validFrom?: string | null;
  validUntil?: string | null;
  branchId?: string | null;
}

let seq = 0;
const unique = (prefix: string) => `${prefix}-${process.pid}-${++seq}`;

export class CompanyFixture {
  constructor(
    readonly world: World,
    readonly id: string,
  ) {}

  private get db() {
    return this.world.t.superuser;
  }

  private async insert(table: string, row: Record<string, unknown>): Promise<string> {
    const [{ id }] = await this.db(table)
      .insert({ company_id: this.id, ...row })
      .returning<{ id: string }[]>('id');
    return id;
  }

  branch(opts: { name?: string; timezone?: string | null } = {}): Promise<string> {
    return this.insert('branches', {
      name: opts.name ?? unique('Branch'),
      timezone: opts.timezone ?? null,
    });
  }

  staff(
    opts: { name?: string; branchId?: string | null; archived?: boolean } = {},
  ): Promise<string> {
    return this.insert('staff', {
      name: opts.name ?? unique('Staff'),
      branch_id: opts.branchId ?? null,
      archived_at: opts.archived ? new Date() : null,
    });
  }

  async service(
    opts: {
      name?: string;
      durationMinutes?: number;
      bufferMinutes?: number;
      priceCents?: number;
      branchId?: string | null;
      staffIds?: string[];
      archived?: boolean;
    } = {},
  ): Promise<string> {
    const id = await this.insert('services', {
      name: opts.name ?? unique('Service'),
      duration_minutes: opts.durationMinutes ?? 30,
      buffer_minutes: opts.bufferMinutes ?? 0,
      price_cents: opts.priceCents ?? 4500,
      branch_id: opts.branchId ?? null,
      archived_at: opts.archived ? new Date() : null,
    });
    for (const staffId of opts.staffIds ?? []) {
      await this.insert('staff_services', { staff_id: staffId, service_id: id });
    }
    return id;
  }

  async hours(staffId: string, rows: HoursRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.db('working_hours').insert(
      rows.map((r) => ({
        company_id: this.id,
        staff_id: staffId,
        branch_id: r.branchId ?? null,
        weekday: r.weekday,
        starts_at: r.startsAt,
        ends_at: r.endsAt,
        valid_from: r.validFrom ?? null,
        valid_until: r.validUntil ?? null,
      })),
    );
  }

  /** The same intervals on each of the given ISO weekdays (several intervals leave breaks). */
  weekly(staffId: string, weekdays: number[], intervals: [string, string][]): Promise<void> {
    return this.hours(
      staffId,
      weekdays.flatMap((weekday) =>
        intervals.map(([startsAt, endsAt]) => ({ weekday, startsAt, endsAt })),
      ),
    );
  }

  timeOff(staffId: string, startsAt: string | Date, endsAt: string | Date): Promise<string> {
    return this.insert('time_off', {
      staff_id: staffId,
      starts_at: new Date(startsAt),
      ends_at: new Date(endsAt),
    });
  }

  customer(opts: { name?: string; phone?: string; email?: string } = {}): Promise<string> {
    return this.insert('customers', {
      name: opts.name ?? unique('Customer'),
      phone_e164: opts.phone ?? null,
      email: opts.email ?? null,
    });
  }

  appointment(opts: {
    staffId: string;
    serviceId: string;
    customerId: string;
    startsAt: string | Date;
    minutes?: number;
    bufferMinutes?: number;
    status?: string;
    branchId?: string | null;
    rescheduleCount?: number;
  }): Promise<string> {
    const starts = new Date(opts.startsAt);
    return this.insert('appointments', {
      staff_id: opts.staffId,
      service_id: opts.serviceId,
      customer_id: opts.customerId,
      branch_id: opts.branchId ?? null,
      starts_at: starts,
      ends_at: new Date(starts.getTime() + (opts.minutes ?? 30) * 60_000),
      status: opts.status ?? 'scheduled',
      source: 'manual',
      reschedule_count: opts.rescheduleCount ?? 0,
      ...(opts.bufferMinutes === undefined ? {} : { buffer_minutes: opts.bufferMinutes }),
    });
  }

  policy(
    type: string,
    config: Record<string, unknown>,
    scope: { branchId?: string; serviceId?: string } = {},
  ) {
    return this.insert('policy_configurations', {
      policy_type: type,
      config: JSON.stringify(config),
      branch_id: scope.branchId ?? null,
      service_id: scope.serviceId ?? null,
    });
  }

  /** A user of this company with the given roles, as the actor of a request. */
  async user(...roles: ('admin' | 'manager' | 'staff')[]): Promise<Actor> {
    const userId = await this.insert('users', {
      email: `${unique('user')}@example.test`,
      name: 'Test User',
      password_hash: 'x',
      roles: roles.length > 0 ? roles : ['admin'],
    });
    return {
      kind: 'user',
      userId,
      companyId: this.id,
      roles: roles.length > 0 ? roles : ['admin'],
      staffId: null,
    };
  }

  ctx(actor: Actor): RequestContext {
    return new RequestContext({ deps: this.world.deps, actor, companyId: this.id });
  }

  /** Runs `fn` in a request of its own: committed when it resolves, rolled back when it throws. */
  async run<T>(actor: Actor, fn: (ctx: RequestContext) => Promise<T>): Promise<T> {
    const ctx = this.ctx(actor);
    try {
      const out = await fn(ctx);
      await ctx.finish(true);
      return out;
    } catch (err) {
      await ctx.finish(false);
      throw err;
    }
  }

  async activity(action?: string): Promise<Record<string, any>[]> {
    const q = this.db('activity_logs').where('company_id', this.id).orderBy('created_at');
    if (action) q.where('action', action);
    return q;
  }
}

export async function createCompany(
  world: World,
  opts: { name?: string; timezone?: string; defaultRegion?: string } = {},
): Promise<CompanyFixture> {
  const id = await insertCompany(world.t.superuser, {
    name: opts.name ?? 'Test Co',
    slug: `co-${randomUUID().slice(0, 12)}`,
    timezone: opts.timezone ?? 'Europe/Berlin',
    defaultRegion: opts.defaultRegion ?? 'DE',
  });
  return new CompanyFixture(world, id);
}

export const VOICE_AGENT: Actor = { kind: 'system', name: 'voice_agent' };

/** Catches the error of a promise that must fail. */
export async function failure(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a failure');
}
