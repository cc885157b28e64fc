import type { Actor } from '../../src/context/actor';
import type { RequestContext } from '../../src/context/request-context';
import {
  bookAppointment,
  cancelAppointment,
  deletePolicy,
  effectivePolicy,
  listPolicies,
  rescheduleAppointment,
  upsertPolicy,
  type OverrideInput,
  type UpsertPolicyInput,
} from '../../src/scheduling';
import {
  createCompany,
  createWorld,
  failure,
  VOICE_AGENT,
  type CompanyFixture,
  type World,
} from './fixtures';

let world: World;
let co: CompanyFixture;
let admin: Actor;
let manager: Actor;
let staffUser: Actor;
const now = new Date('2026-12-01T08:00:00Z'); // Tuesday 09:00 in Berlin

beforeAll(async () => {
  world = await createWorld();
  co = await createCompany(world, { timezone: 'Europe/Berlin' });
  admin = await co.user('admin');
  manager = await co.user('manager');
  staffUser = await co.user('staff');
});
afterAll(async () => world.t.drop());

const as = <T>(actor: Actor, fn: (ctx: RequestContext) => Promise<T>) => co.run(actor, fn);

describe('policy validation', () => {
  const invalid: [string, unknown, string][] = [
    ['booking', { minNoticeHours: -1 }, 'config.minNoticeHours'],
    ['booking', { minNoticeHours: '2' }, 'config.minNoticeHours'],
    ['booking', { minNoticeHours: null }, 'config.minNoticeHours'],
    ['booking', { horizonDays: 0 }, 'config.horizonDays'],
    ['booking', { horizonDays: 1.5 }, 'config.horizonDays'],
    ['booking', { maxPerCustomerPerDay: 0 }, 'config.maxPerCustomerPerDay'],
    ['booking', { maxActivePerCustomer: 1000 }, 'config.maxActivePerCustomer'],
    ['booking', { slotStepMinutes: 1 }, 'config.slotStepMinutes'],
    ['booking', { feeCents: 100 }, 'config.feeCents'],
    ['booking', { minNotice: 2 }, 'config.minNotice'],
    ['booking', [], 'config'],
    ['booking', null, 'config'],
    ['cancellation', { minNoticeHours: 9000 }, 'config.minNoticeHours'],
    ['cancellation', { feeCents: -5 }, 'config.feeCents'],
    ['cancellation', { feeCents: 9.99 }, 'config.feeCents'],
    ['cancellation', { maxReschedules: 1 }, 'config.maxReschedules'],
    ['rescheduling', { maxReschedules: -1 }, 'config.maxReschedules'],
    ['rescheduling', { maxReschedules: null }, 'config.maxReschedules'],
    ['rescheduling', { horizonDays: 5 }, 'config.horizonDays'],
    ['refunds', { minNoticeHours: 1 }, 'policyType'],
  ];
  test.each(invalid)('%s %j is refused on %s', async (policyType, config, field) => {
    const err = await failure(
      as(admin, (ctx) => upsertPolicy(ctx, { policyType, config } as UpsertPolicyInput)),
    );
    expect(err).toMatchObject({ code: 'BAD_USER_INPUT', field });
    expect(err.message).toContain(field.replace(/^config\./, ''));
  });

  test('scopes must be the company’s own branch and service', async () => {
    const other = await createCompany(world);
    const theirBranch = await other.branch();
    const theirService = await other.service();
    let err = await failure(
      as(admin, (ctx) =>
        upsertPolicy(ctx, { policyType: 'booking', branchId: theirBranch, config: {} }),
      ),
    );
    expect(err).toMatchObject({ code: 'NOT_FOUND', field: 'branchId' });
    err = await failure(
      as(admin, (ctx) =>
        upsertPolicy(ctx, { policyType: 'booking', serviceId: theirService, config: {} }),
      ),
    );
    expect(err).toMatchObject({ code: 'NOT_FOUND', field: 'serviceId' });
    err = await failure(
      as(admin, (ctx) => deletePolicy(ctx, '7d0f6c1e-1111-4111-8111-111111111111')),
    );
    expect(err).toMatchObject({ code: 'NOT_FOUND', field: 'id' });
  });
});

describe('policy management and resolution', () => {
  test('upsert per scope, most specific setting wins key by key, delete falls back', async () => {
    const branch = await co.branch();
    const service = await co.service();
    const company = await as(admin, (ctx) =>
      upsertPolicy(ctx, { policyType: 'booking', config: { minNoticeHours: 24, horizonDays: 30 } }),
    );
    expect(company).toMatchObject({
      scope: 'company',
      config: { minNoticeHours: 24, horizonDays: 30 },
    });
    const again = await as(admin, (ctx) =>
      upsertPolicy(ctx, { policyType: 'booking', config: { minNoticeHours: 12, horizonDays: 30 } }),
    );
    expect(again.id).toBe(company.id);
    await as(admin, (ctx) =>
      upsertPolicy(ctx, { policyType: 'booking', branchId: branch, config: { horizonDays: 60 } }),
    );
    const svc = await as(admin, (ctx) =>
      upsertPolicy(ctx, {
        policyType: 'booking',
        serviceId: service,
        config: { minNoticeHours: 1 },
      }),
    );
    const both = await as(admin, (ctx) =>
      upsertPolicy(ctx, {
        policyType: 'booking',
        branchId: branch,
        serviceId: service,
        config: { maxPerCustomerPerDay: 1 },
      }),
    );
    expect(both.scope).toBe('branch_service');
    // Inactive policies are kept but not applied.
    await as(admin, (ctx) =>
      upsertPolicy(ctx, { policyType: 'cancellation', config: { feeCents: 500 }, active: false }),
    );

    const eff = await as(admin, (ctx) =>
      effectivePolicy(ctx, 'booking', { branchId: branch, serviceId: service }),
    );
    expect(eff.config).toEqual({
      minNoticeHours: 1,
      horizonDays: 60,
      maxPerCustomerPerDay: 1,
      maxActivePerCustomer: null,
      slotStepMinutes: 15,
    });
    expect(eff.sources).toMatchObject({
      minNoticeHours: svc.id,
      maxPerCustomerPerDay: both.id,
      slotStepMinutes: 'default',
    });
    const companyWide = await as(admin, (ctx) => effectivePolicy(ctx, 'booking'));
    expect(companyWide.config).toMatchObject({ minNoticeHours: 12, horizonDays: 30 });
    const cancellation = await as(admin, (ctx) => effectivePolicy(ctx, 'cancellation'));
    expect(cancellation.config).toEqual({ minNoticeHours: 0, feeCents: null });

    const list = await as(admin, (ctx) => listPolicies(ctx, { policyType: 'booking' }));
    expect(list.map((p) => p.scope)).toEqual(['company', 'branch', 'service', 'branch_service']);

    await as(admin, (ctx) => deletePolicy(ctx, svc.id));
    const after = await as(admin, (ctx) =>
      effectivePolicy(ctx, 'booking', { branchId: branch, serviceId: service }),
    );
    expect(after.config.minNoticeHours).toBe(12);

    const actions = (await co.activity()).map((l) => l.action);
    expect(actions).toEqual(
      expect.arrayContaining(['policy.created', 'policy.updated', 'policy.deleted']),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Enforcement: each rule is refused without an override, an override by a staff member (or the
// voice agent) is FORBIDDEN, and an admin's or manager's override goes through and is audited
// with the reason and the rule.
// ---------------------------------------------------------------------------------------------

interface RuleCase {
  rule: string;
  policy?: [string, Record<string, unknown>];
  field: string;
  /** Sets up data and returns the operation to attempt. */
  arrange(s: {
    service: string;
    staff: string;
    customer: string;
  }): Promise<(ctx: RequestContext, override?: OverrideInput) => Promise<unknown>>;
}

const berlin = (day: number, time: string) =>
  `2026-12-${String(day).padStart(2, '0')}T${time}:00+01:00`;

const RULES: RuleCase[] = [
  {
    rule: 'booking.minNoticeHours',
    policy: ['booking', { minNoticeHours: 48 }],
    field: 'startsAt',
    arrange: async (s) => (ctx, override) =>
      bookAppointment(ctx, {
        serviceId: s.service,
        customerId: s.customer,
        startsAt: berlin(2, '10:00'),
        source: 'manual',
        override,
        now,
      }),
  },
  {
    rule: 'booking.horizonDays',
    policy: ['booking', { horizonDays: 3 }],
    field: 'startsAt',
    arrange: async (s) => (ctx, override) =>
      bookAppointment(ctx, {
        serviceId: s.service,
        customerId: s.customer,
        startsAt: berlin(7, '10:00'),
        source: 'manual',
        override,
        now,
      }),
  },
  {
    rule: 'booking.maxPerCustomerPerDay',
    policy: ['booking', { maxPerCustomerPerDay: 1 }],
    field: 'startsAt',
    arrange: async (s) => {
      await co.appointment({
        serviceId: s.service,
        staffId: s.staff,
        customerId: s.customer,
        startsAt: berlin(3, '10:00'),
      });
      return (ctx, override) =>
        bookAppointment(ctx, {
          serviceId: s.service,
          customerId: s.customer,
          startsAt: berlin(3, '14:00'),
          source: 'manual',
          override,
          now,
        });
    },
  },
  {
    rule: 'booking.maxActivePerCustomer',
    policy: ['booking', { maxActivePerCustomer: 1 }],
    field: 'customerId',
    arrange: async (s) => {
      await co.appointment({
        serviceId: s.service,
        staffId: s.staff,
        customerId: s.customer,
        startsAt: berlin(3, '10:00'),
      });
      return (ctx, override) =>
        bookAppointment(ctx, {
          serviceId: s.service,
          customerId: s.customer,
          startsAt: berlin(4, '10:00'),
          source: 'manual',
          override,
          now,
        });
    },
  },
  {
    rule: 'availability.workingHours',
    field: 'startsAt',
    arrange: async (s) => (ctx, override) =>
      bookAppointment(ctx, {
        serviceId: s.service,
        customerId: s.customer,
        startsAt: berlin(2, '21:00'),
        source: 'manual',
        override,
        now,
      }),
  },
  {
    rule: 'availability.timeOff',
    field: 'startsAt',
    arrange: async (s) => {
      await co.timeOff(s.staff, berlin(2, '08:00'), berlin(2, '20:00'));
      return (ctx, override) =>
        bookAppointment(ctx, {
          serviceId: s.service,
          customerId: s.customer,
          startsAt: berlin(2, '10:00'),
          source: 'manual',
          override,
          now,
        });
    },
  },
  {
    rule: 'cancellation.minNoticeHours',
    policy: ['cancellation', { minNoticeHours: 24 }],
    field: 'id',
    arrange: async (s) => {
      const id = await co.appointment({
        serviceId: s.service,
        staffId: s.staff,
        customerId: s.customer,
        startsAt: berlin(1, '11:00'),
      });
      return (ctx, override) => cancelAppointment(ctx, id, { reason: 'ill', override, now });
    },
  },
  {
    rule: 'rescheduling.minNoticeHours',
    policy: ['rescheduling', { minNoticeHours: 24 }],
    field: 'id',
    arrange: async (s) => {
      const id = await co.appointment({
        serviceId: s.service,
        staffId: s.staff,
        customerId: s.customer,
        startsAt: berlin(1, '11:00'),
      });
      return (ctx, override) =>
        rescheduleAppointment(ctx, id, { startsAt: berlin(4, '11:00'), override, now });
    },
  },
  {
    rule: 'rescheduling.maxReschedules',
    policy: ['rescheduling', { maxReschedules: 1 }],
    field: 'id',
    arrange: async (s) => {
      const id = await co.appointment({
        serviceId: s.service,
        staffId: s.staff,
        customerId: s.customer,
        startsAt: berlin(5, '10:00'),
        rescheduleCount: 1,
      });
      return (ctx, override) =>
        rescheduleAppointment(ctx, id, { startsAt: berlin(5, '14:00'), override, now });
    },
  },
];

describe.each(RULES)('rule $rule', (c) => {
  let attempt: (ctx: RequestContext, override?: OverrideInput) => Promise<unknown>;
  /** The staff user whose schedule it is: staff act only on their own appointments. */
  let staffMember: Actor;
  beforeAll(async () => {
    const staff = await co.staff();
    staffMember = { ...staffUser, staffId: staff } as Actor;
    await co.weekly(staff, [1, 2, 3, 4, 5, 6], [['08:00', '20:00']]);
    const service = await co.service({ durationMinutes: 30, staffIds: [staff] });
    const customer = await co.customer();
    if (c.policy) await co.policy(c.policy[0], c.policy[1], { serviceId: service });
    attempt = await c.arrange({ service, staff, customer });
  });

  test('is enforced, naming the rule and the field', async () => {
    const err = await failure(as(staffMember, (ctx) => attempt(ctx)));
    expect(err).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: c.field,
      details: { rule: c.rule },
    });
  });

  test('cannot be overridden by a staff member or the voice agent', async () => {
    for (const actor of [staffMember, VOICE_AGENT]) {
      const err = await failure(as(actor, (ctx) => attempt(ctx, { reason: 'regular customer' })));
      expect(err).toMatchObject({ code: 'FORBIDDEN', field: 'override' });
    }
  });

  test('an override needs a reason', async () => {
    const err = await failure(as(manager, (ctx) => attempt(ctx, { reason: '  ' })));
    expect(err).toMatchObject({ code: 'BAD_USER_INPUT', field: 'override.reason' });
  });

  test('a manager may override with a reason, which is audited with the rule', async () => {
    const result = (await as(manager, (ctx) => attempt(ctx, { reason: 'regular customer' }))) as {
      overriddenRules: string[];
    };
    expect(result.overriddenRules).toContain(c.rule);
    const entries = (await co.activity('scheduling.rule_overridden')).filter(
      (e) => e.details.rule === c.rule,
    );
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      actor_type: 'user',
      actor_id: (manager as { userId: string }).userId,
      reason: 'regular customer',
      subject_type: 'appointment',
    });
  });
});

describe('late cancellation with a fee', () => {
  let service: string;
  let staff: string;
  let customer: string;
  beforeAll(async () => {
    staff = await co.staff();
    service = await co.service({ staffIds: [staff] });
    customer = await co.customer();
    await co.policy('cancellation', { minNoticeHours: 24, feeCents: 1500 }, { serviceId: service });
  });

  test('is allowed and charged; early cancellation is free', async () => {
    const late = await co.appointment({
      serviceId: service,
      staffId: staff,
      customerId: customer,
      startsAt: berlin(1, '12:00'),
    });
    const r = await as(VOICE_AGENT, (ctx) =>
      cancelAppointment(ctx, late, { reason: 'car broke down', now }),
    );
    expect(r).toMatchObject({ late: true, feeCents: 1500, overriddenRules: [] });
    const [entry] = (await co.activity('appointment.cancelled')).filter(
      (e) => e.subject_id === late,
    );
    expect(entry).toMatchObject({
      reason: 'car broke down',
      details: { feeCents: 1500, late: true, source: 'phone' },
    });

    const early = await co.appointment({
      serviceId: service,
      staffId: staff,
      customerId: customer,
      startsAt: berlin(9, '12:00'),
    });
    const r2 = await as(VOICE_AGENT, (ctx) => cancelAppointment(ctx, early, { now }));
    expect(r2).toMatchObject({ late: false, feeCents: 0 });
  });

  test('an admin can waive the fee, audited', async () => {
    const id = await co.appointment({
      serviceId: service,
      staffId: staff,
      customerId: customer,
      startsAt: berlin(1, '15:00'),
    });
    const r = await as(admin, (ctx) =>
      cancelAppointment(ctx, id, { override: { reason: 'goodwill' }, now }),
    );
    expect(r).toMatchObject({
      late: true,
      feeCents: 0,
      overriddenRules: ['cancellation.feeCents'],
    });
    const entries = (await co.activity('scheduling.rule_overridden')).filter(
      (e) => e.subject_id === id,
    );
    expect(entries).toMatchObject([
      { reason: 'goodwill', details: { rule: 'cancellation.feeCents', limit: 1500 } },
    ]);
  });
});
