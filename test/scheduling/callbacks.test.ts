import type { Actor } from '../../src/context/actor';
import type { RequestContext } from '../../src/context/request-context';
import {
  assignCallbackRequest,
  completeCallbackRequest,
  createCallbackRequest,
  expireCallbackRequest,
  listOverdueCallbackRequests,
  markCallbackContacted,
  type CreateCallbackRequestInput,
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
let staff: string;
const now = new Date('2026-12-01T08:00:00Z');
const MIN = 60_000;

beforeAll(async () => {
  world = await createWorld();
  co = await createCompany(world, { timezone: 'Europe/Berlin', defaultRegion: 'DE' });
  admin = await co.user('admin');
  staff = await co.staff({ name: 'Anna' });
});
afterAll(async () => world.t.drop());

const as = <T>(actor: Actor, fn: (ctx: RequestContext) => Promise<T>) => co.run(actor, fn);
const create = (input: Partial<CreateCallbackRequestInput>) =>
  as(VOICE_AGENT, (ctx) => createCallbackRequest(ctx, { phone: '030 1234567', now, ...input }));

describe('creating callback requests', () => {
  test('normalises the phone, links a known customer, and sets the due time from the priority', async () => {
    const customer = await co.customer({ phone: '+4915177777777' });
    const r = await create({
      phone: '0151 7777 7777',
      name: 'Mia',
      reason: 'Wants a colour consultation',
      preferredTimes: [
        'tomorrow afternoon',
        { from: '2026-12-02T14:00:00+01:00', to: '2026-12-02T17:00:00+01:00' },
      ],
      priority: 'high',
    });
    expect(r).toMatchObject({
      phoneE164: '+4915177777777',
      customerId: customer,
      status: 'pending',
      priority: 'high',
      preferredTimes: [
        'tomorrow afternoon',
        { from: '2026-12-02T13:00:00.000Z', to: '2026-12-02T16:00:00.000Z' },
      ],
    });
    expect(r.dueAt?.getTime()).toBe(now.getTime() + 60 * MIN);
    const [entry] = await co.activity('callback_request.created');
    expect(entry).toMatchObject({ actor_type: 'voice_agent', subject_id: r.id });
  });

  test.each([
    ['urgent', 15],
    ['normal', 240],
    ['low', 1440],
  ] as const)('%s is due in %i minutes', async (priority, minutes) => {
    const r = await create({ priority });
    expect(r.phoneE164).toBe('+49301234567');
    expect(r.customerId).toBeNull();
    expect(r.dueAt?.getTime()).toBe(now.getTime() + minutes * MIN);
  });

  test('bad input names the field', async () => {
    const other = await createCompany(world);
    const [{ id: theirCall }] = await world.t
      .superuser('calls')
      .insert({ company_id: other.id, retell_call_id: 'call_x' })
      .returning('id');
    const theirCustomer = await other.customer();
    const cases: [Partial<CreateCallbackRequestInput>, string, string][] = [
      [{ phone: 'call me' }, 'BAD_USER_INPUT', 'phone'],
      [{ priority: 'asap' as never }, 'BAD_USER_INPUT', 'priority'],
      [{ preferredTimes: 'monday' as never }, 'BAD_USER_INPUT', 'preferredTimes'],
      [
        { preferredTimes: [{ from: '2026-12-02T14:00:00Z', to: '2026-12-02T13:00:00Z' }] },
        'BAD_USER_INPUT',
        'preferredTimes.0.to',
      ],
      [{ preferredTimes: ['ok', 42 as never] }, 'BAD_USER_INPUT', 'preferredTimes.1'],
      [{ callId: theirCall as string }, 'NOT_FOUND', 'callId'],
      [{ customerId: theirCustomer }, 'NOT_FOUND', 'customerId'],
    ];
    for (const [input, code, field] of cases) {
      const err = await failure(create(input));
      expect([input, err]).toMatchObject([input, { code, field }]);
    }
  });
});

describe('callback state machine', () => {
  test('pending -> assigned -> contacted -> done, audited', async () => {
    const r = await create({});
    const assigned = await as(admin, (ctx) => assignCallbackRequest(ctx, r.id, { staffId: staff }));
    expect(assigned).toMatchObject({ status: 'assigned', assignedStaffId: staff });
    const contacted = await as(admin, (ctx) => markCallbackContacted(ctx, r.id, { now }));
    expect(contacted).toMatchObject({ status: 'contacted', contactedAt: now });
    const done = await as(admin, (ctx) =>
      completeCallbackRequest(ctx, r.id, { resolution: 'Booked for Friday', now }),
    );
    expect(done).toMatchObject({
      status: 'done',
      resolution: 'Booked for Friday',
      completedAt: now,
    });
    const log = (await co.activity()).filter((l) => l.subject_id === r.id);
    expect(log.map((l) => [l.action, l.details.from, l.details.to])).toEqual([
      ['callback_request.created', undefined, undefined],
      ['callback_request.assigned', 'pending', 'assigned'],
      ['callback_request.contacted', 'assigned', 'contacted'],
      ['callback_request.completed', 'contacted', 'done'],
    ]);
    // done is final
    for (const step of [
      (ctx: RequestContext) => assignCallbackRequest(ctx, r.id, { staffId: staff }),
      (ctx: RequestContext) => expireCallbackRequest(ctx, r.id),
    ]) {
      const err = await failure(as(admin, step));
      expect(err).toMatchObject({
        code: 'BAD_USER_INPUT',
        field: 'id',
        details: { currentStatus: 'done' },
      });
      expect(err.message).toMatch(/is done/);
    }
  });

  test('invalid transitions name the current status', async () => {
    const r = await create({});
    const err = await failure(
      as(admin, (ctx) => completeCallbackRequest(ctx, r.id, { resolution: 'x' })),
    );
    expect(err).toMatchObject({
      code: 'BAD_USER_INPUT',
      details: {
        currentStatus: 'pending',
        action: 'complete',
        allowed: ['assign', 'contact', 'expire'],
      },
    });
    const expired = await as(admin, (ctx) =>
      expireCallbackRequest(ctx, r.id, { reason: 'Number unreachable' }),
    );
    expect(expired).toMatchObject({ status: 'expired', resolution: 'Number unreachable' });
    const again = await failure(as(admin, (ctx) => markCallbackContacted(ctx, r.id)));
    expect(again.message).toMatch(/is expired/);
  });

  test('assignment needs an active staff member of the company', async () => {
    const r = await create({});
    const other = await createCompany(world);
    const theirStaff = await other.staff();
    const gone = await co.staff({ archived: true });
    let err = await failure(
      as(admin, (ctx) => assignCallbackRequest(ctx, r.id, { staffId: theirStaff })),
    );
    expect(err).toMatchObject({ code: 'NOT_FOUND', field: 'staffId' });
    err = await failure(as(admin, (ctx) => assignCallbackRequest(ctx, r.id, { staffId: gone })));
    expect(err).toMatchObject({ code: 'BAD_USER_INPUT', field: 'staffId' });
    err = await failure(
      as(admin, (ctx) =>
        assignCallbackRequest(ctx, '7d0f6c1e-1111-4111-8111-111111111111', { staffId: staff }),
      ),
    );
    expect(err).toMatchObject({ code: 'NOT_FOUND', field: 'id' });
  });
});

describe('overdue list', () => {
  test('pending and assigned requests past due, most urgent first', async () => {
    const fresh = await createCompany(world);
    const boss = await fresh.user('manager');
    const s = await fresh.staff();
    const make = (priority: 'low' | 'normal' | 'high' | 'urgent', minutesAgo: number) =>
      fresh.run(VOICE_AGENT, (ctx) =>
        createCallbackRequest(ctx, {
          phone: '+4930123456',
          priority,
          now: new Date(now.getTime() - minutesAgo * MIN),
        }),
      );
    const lowOld = await make('low', 3000); // due 1560 minutes ago
    const normal = await make('normal', 300); // due 60 minutes ago
    const urgent = await make('urgent', 20); // due 5 minutes ago
    const notYet = await make('high', 30); // due in 30 minutes
    const assigned = await make('normal', 600);
    await fresh.run(boss, (ctx) => assignCallbackRequest(ctx, assigned.id, { staffId: s }));
    const contacted = await make('urgent', 600);
    await fresh.run(boss, (ctx) => markCallbackContacted(ctx, contacted.id, { now }));
    const expired = await make('urgent', 600);
    await fresh.run(boss, (ctx) => expireCallbackRequest(ctx, expired.id));

    const overdue = await fresh.run(boss, (ctx) => listOverdueCallbackRequests(ctx, now));
    expect(overdue.map((r) => r.id)).toEqual([urgent.id, assigned.id, normal.id, lowOld.id]);
    expect(overdue.map((r) => r.id)).not.toContain(notYet.id);
    const later = await fresh.run(boss, (ctx) =>
      listOverdueCallbackRequests(ctx, new Date(now.getTime() + 31 * MIN)),
    );
    expect(later.map((r) => r.id)).toContain(notYet.id);
  });
});
