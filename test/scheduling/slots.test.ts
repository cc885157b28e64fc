import fc from 'fast-check';
import { DateTime } from 'luxon';
import {
  computeSlots,
  evaluateStart,
  workingWindows,
  type BusyInterval,
  type WorkingHourRule,
} from '../../src/scheduling/slots';
import { formatInZone, localToInstant, dateToDayNumber } from '../../src/scheduling/time';

const MIN = 60_000;

function rules(zone: string, weekdays: number[], intervals: [string, string][]): WorkingHourRule[] {
  return weekdays.flatMap((weekday) =>
    intervals.map(([startsAt, endsAt]) => ({ weekday, startsAt, endsAt, timeZone: zone })),
  );
}

describe('local wall time to instants', () => {
  test.each([
    // zone, date, local time, expected instant
    ['Europe/Berlin', '2026-03-29', 1 * 3600, '2026-03-29T00:00:00.000Z'],
    ['Europe/Berlin', '2026-03-29', 2.5 * 3600, '2026-03-29T01:00:00.000Z'], // skipped: moment of the jump
    ['Europe/Berlin', '2026-03-29', 3 * 3600, '2026-03-29T01:00:00.000Z'],
    ['Europe/Berlin', '2026-10-25', 2.5 * 3600, '2026-10-25T00:30:00.000Z'], // repeated: first time
    ['Europe/Berlin', '2026-10-25', 3 * 3600, '2026-10-25T02:00:00.000Z'],
    ['America/New_York', '2026-03-08', 2.5 * 3600, '2026-03-08T07:00:00.000Z'],
    ['America/New_York', '2026-11-01', 1.5 * 3600, '2026-11-01T05:30:00.000Z'],
    ['UTC', '2026-06-01', 0, '2026-06-01T00:00:00.000Z'],
  ])('%s %s +%is', (zone, date, seconds, expected) => {
    expect(new Date(localToInstant(zone, dateToDayNumber(date), seconds)).toISOString()).toBe(
      expected,
    );
  });

  test('formats with the offset in force', () => {
    expect(formatInZone(Date.parse('2026-03-29T08:00:00Z'), 'Europe/Berlin')).toBe(
      '2026-03-29T10:00:00+02:00',
    );
    expect(formatInZone(Date.parse('2026-03-28T08:00:00Z'), 'Europe/Berlin')).toBe(
      '2026-03-28T09:00:00+01:00',
    );
    expect(formatInZone(Date.parse('2026-11-01T14:00:00Z'), 'America/New_York')).toBe(
      '2026-11-01T09:00:00-05:00',
    );
    expect(formatInZone(Date.parse('2026-06-01T09:00:00Z'), 'UTC')).toBe(
      '2026-06-01T09:00:00+00:00',
    );
  });
});

describe('computeSlots', () => {
  test('working windows merge where rows meet and keep breaks', () => {
    const w = workingWindows(
      rules(
        'UTC',
        [1],
        [
          ['09:00', '12:00'],
          ['12:00', '13:00'],
          ['14:00', '17:00'],
        ],
      ),
      Date.parse('2026-06-01T00:00:00Z'),
      Date.parse('2026-06-02T00:00:00Z'),
    );
    expect(w.map((x) => [new Date(x.start).toISOString(), new Date(x.end).toISOString()])).toEqual([
      ['2026-06-01T09:00:00.000Z', '2026-06-01T13:00:00.000Z'],
      ['2026-06-01T14:00:00.000Z', '2026-06-01T17:00:00.000Z'],
    ]);
  });

  test('buffers of the slot and of existing appointments both stay free', () => {
    const slots = computeSlots({
      from: new Date('2026-06-01T00:00:00Z'),
      to: new Date('2026-06-02T00:00:00Z'),
      durationMinutes: 30,
      bufferMinutes: 15,
      stepMinutes: 15,
      staff: [
        {
          staffId: 's',
          workingHours: rules('UTC', [1], [['09:00', '12:00']]),
          busy: [
            {
              start: new Date('2026-06-01T10:00:00Z'),
              end: new Date('2026-06-01T10:45:00Z'),
              kind: 'appointment',
            },
          ],
        },
      ],
    });
    expect(slots.map((s) => s.startsAt.slice(11, 16))).toEqual([
      '09:00',
      '09:15',
      '10:45',
      '11:00',
      '11:15',
      '11:30',
    ]);
  });

  test('validity dates limit rows to their period', () => {
    const slots = computeSlots({
      from: new Date('2026-06-01T00:00:00Z'),
      to: new Date('2026-06-15T00:00:00Z'),
      durationMinutes: 60,
      bufferMinutes: 0,
      stepMinutes: 60,
      staff: [
        {
          staffId: 's',
          workingHours: [
            {
              weekday: 1,
              startsAt: '09:00',
              endsAt: '10:00',
              timeZone: 'UTC',
              validUntil: '2026-06-01',
            },
            {
              weekday: 1,
              startsAt: '15:00',
              endsAt: '16:00',
              timeZone: 'UTC',
              validFrom: '2026-06-02',
            },
          ],
          busy: [],
        },
      ],
    });
    expect(slots.map((s) => s.startsAt)).toEqual([
      '2026-06-01T09:00:00+00:00',
      '2026-06-08T15:00:00+00:00',
    ]);
  });

  test('a night shift across the spring-forward jump has no slot in the skipped hour', () => {
    const slots = computeSlots({
      from: new Date('2026-03-28T12:00:00Z'),
      to: new Date('2026-03-29T12:00:00Z'),
      durationMinutes: 30,
      bufferMinutes: 0,
      stepMinutes: 30,
      staff: [
        { staffId: 's', workingHours: rules('Europe/Berlin', [7], [['01:00', '04:00']]), busy: [] },
      ],
    });
    expect(slots.map((s) => s.startsAt)).toEqual([
      '2026-03-29T01:00:00+01:00',
      '2026-03-29T01:30:00+01:00',
      '2026-03-29T03:00:00+02:00',
      '2026-03-29T03:30:00+02:00',
    ]);
  });

  test('a night shift across the fall-back change includes the repeated hour twice', () => {
    const slots = computeSlots({
      from: new Date('2026-10-24T12:00:00Z'),
      to: new Date('2026-10-25T12:00:00Z'),
      durationMinutes: 30,
      bufferMinutes: 0,
      stepMinutes: 30,
      staff: [
        { staffId: 's', workingHours: rules('Europe/Berlin', [7], [['01:00', '04:00']]), busy: [] },
      ],
    });
    expect(slots.map((s) => s.startsAt)).toEqual([
      '2026-10-25T01:00:00+02:00',
      '2026-10-25T01:30:00+02:00',
      '2026-10-25T02:00:00+02:00',
      '2026-10-25T02:30:00+02:00',
      '2026-10-25T02:00:00+01:00',
      '2026-10-25T02:30:00+01:00',
      '2026-10-25T03:00:00+01:00',
      '2026-10-25T03:30:00+01:00',
    ]);
  });

  test('notice and horizon bound the offered starts', () => {
    const slots = computeSlots({
      from: new Date('2026-06-01T00:00:00Z'),
      to: new Date('2026-06-02T00:00:00Z'),
      durationMinutes: 30,
      bufferMinutes: 0,
      stepMinutes: 30,
      earliestStart: new Date('2026-06-01T10:10:00Z'),
      latestStart: new Date('2026-06-01T11:30:00Z'),
      staff: [{ staffId: 's', workingHours: rules('UTC', [1], [['09:00', '17:00']]), busy: [] }],
    });
    expect(slots.map((s) => s.startsAt.slice(11, 16))).toEqual(['10:30', '11:00', '11:30']);
  });
});

// ---------------------------------------------------------------------------------------------
// Property: whatever the working hours, appointments and time off, no offered slot leaves working
// hours or touches an appointment (with both buffers) or time off; with a 5-minute step the
// offered starts are exactly the valid ones found by brute force, and evaluateStart agrees.
// ---------------------------------------------------------------------------------------------

const ZONES = ['UTC', 'Europe/Berlin', 'America/New_York'] as const;
const GRID = 5 * MIN;

interface Scenario {
  zone: string;
  from: number;
  to: number;
  durationMinutes: number;
  bufferMinutes: number;
  stepMinutes: number;
  earliest?: number;
  latest?: number;
  rules: WorkingHourRule[];
  busy: BusyInterval[];
}

const hhmm = (m: number) =>
  `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;

function scenario(step?: number): fc.Arbitrary<Scenario> {
  return fc
    .record({
      zone: fc.constantFrom(...ZONES),
      // 2026-02-20 .. 2026-12-01: both DST changes of both zones fall in here.
      day: fc.integer({ min: dateToDayNumber('2026-02-20'), max: dateToDayNumber('2026-12-01') }),
      days: fc.integer({ min: 1, max: 4 }),
      rows: fc.array(
        fc.record({
          weekday: fc.integer({ min: 1, max: 7 }),
          // From 04:00 in zones with DST, so no row boundary is itself an ambiguous wall time.
          start: fc.integer({ min: 0, max: 95 }),
          length: fc.integer({ min: 1, max: 48 }),
          validFromOffset: fc.option(fc.integer({ min: -3, max: 5 }), { nil: undefined }),
        }),
        { minLength: 1, maxLength: 10 },
      ),
      appointments: fc.array(
        fc.record({
          at: fc.integer({ min: -24 * 12, max: 5 * 24 * 12 }),
          length: fc.integer({ min: 1, max: 36 }),
          buffer: fc.integer({ min: 0, max: 12 }),
        }),
        { maxLength: 12 },
      ),
      timeOff: fc.array(
        fc.record({
          at: fc.integer({ min: -24 * 12, max: 5 * 24 * 12 }),
          length: fc.integer({ min: 1, max: 200 }),
        }),
        { maxLength: 3 },
      ),
      duration: fc.integer({ min: 1, max: 24 }),
      buffer: fc.integer({ min: 0, max: 12 }),
      step: step ? fc.constant(step) : fc.constantFrom(5, 10, 15, 20, 30, 45, 60),
      earliest: fc.option(fc.integer({ min: 0, max: 3 * 24 * 60 }), { nil: undefined }),
      latest: fc.option(fc.integer({ min: 0, max: 4 * 24 * 60 }), { nil: undefined }),
    })
    .map((g) => {
      const from = DateTime.fromISO(new Date(g.day * 86_400_000).toISOString().slice(0, 10), {
        zone: g.zone,
      }).toMillis();
      const to = from + g.days * 86_400_000;
      const minStart = g.zone === 'UTC' ? 0 : 16; // quarter hours
      return {
        zone: g.zone,
        from,
        to,
        durationMinutes: g.duration * 5,
        bufferMinutes: g.buffer * 5,
        stepMinutes: g.step,
        earliest: g.earliest === undefined ? undefined : from + g.earliest * MIN + 7_000,
        latest: g.latest === undefined ? undefined : from + g.latest * MIN,
        rules: g.rows.map((r) => {
          const start = Math.max(r.start, minStart) * 15;
          const end = Math.min(start + r.length * 15, 1440);
          return {
            weekday: r.weekday,
            startsAt: hhmm(start),
            endsAt: end === 1440 ? '24:00' : hhmm(end),
            validFrom:
              r.validFromOffset === undefined
                ? null
                : new Date((g.day + r.validFromOffset) * 86_400_000).toISOString().slice(0, 10),
            timeZone: g.zone,
          };
        }),
        busy: [
          ...g.appointments.map((a) => ({
            start: new Date(from + a.at * GRID),
            end: new Date(from + (a.at + a.length + a.buffer) * GRID),
            kind: 'appointment' as const,
          })),
          ...g.timeOff.map((o) => ({
            start: new Date(from + o.at * GRID),
            end: new Date(from + (o.at + o.length) * GRID),
            kind: 'time_off' as const,
          })),
        ],
      };
    });
}

/** Brute force, instant by instant, with luxon as the independent clock. */
function oracle(s: Scenario) {
  const working = new Map<number, boolean>();
  const isWorking = (t: number): boolean => {
    let v = working.get(t);
    if (v === undefined) {
      const local = DateTime.fromMillis(t, { zone: s.zone });
      const minute = local.hour * 60 + local.minute;
      const date = local.toISODate()!;
      v = s.rules.some((r) => {
        const [sh, sm] = r.startsAt.split(':').map(Number);
        const [eh, em] = r.endsAt.split(':').map(Number);
        return (
          r.weekday === local.weekday &&
          (!r.validFrom || date >= r.validFrom) &&
          minute >= sh * 60 + sm &&
          minute < eh * 60 + em
        );
      });
      working.set(t, v);
    }
    return v;
  };
  const durMs = s.durationMinutes * MIN;
  const occMs = (s.durationMinutes + s.bufferMinutes) * MIN;
  const insideHours = (t: number) => {
    for (let x = t; x < t + durMs; x += GRID) if (!isWorking(x)) return false;
    return true;
  };
  const free = (t: number) =>
    !s.busy.some((b) => b.start.getTime() < t + occMs && b.end.getTime() > t);
  const valid = (t: number) =>
    t >= s.from &&
    t < s.to &&
    (s.earliest === undefined || t >= s.earliest) &&
    (s.latest === undefined || t <= s.latest) &&
    insideHours(t) &&
    free(t);
  return { valid, insideHours, free };
}

function run(s: Scenario) {
  return computeSlots({
    from: new Date(s.from),
    to: new Date(s.to),
    durationMinutes: s.durationMinutes,
    bufferMinutes: s.bufferMinutes,
    stepMinutes: s.stepMinutes,
    earliestStart: s.earliest === undefined ? undefined : new Date(s.earliest),
    latestStart: s.latest === undefined ? undefined : new Date(s.latest),
    staff: [{ staffId: 'x', workingHours: s.rules, busy: s.busy }],
  });
}

describe('computeSlots properties', () => {
  test('no slot leaves working hours or overlaps an appointment, its buffer or time off', () => {
    fc.assert(
      fc.property(scenario(), (s) => {
        const slots = run(s);
        const { valid } = oracle(s);
        let previous = -Infinity;
        const wrong = slots.filter((slot) => {
          const t = slot.start.getTime();
          const ok =
            valid(t) &&
            t > previous &&
            slot.end.getTime() - t === s.durationMinutes * MIN &&
            Date.parse(slot.startsAt) === t;
          previous = t;
          return !ok;
        });
        expect(wrong).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  test('with a 5-minute step every valid start is offered, and evaluateStart agrees', () => {
    fc.assert(
      fc.property(scenario(5), (s) => {
        const offered = new Set(run(s).map((x) => x.start.getTime()));
        const { valid, insideHours, free } = oracle(s);
        const schedule = { staffId: 'x', workingHours: s.rules, busy: s.busy };
        const wrong: unknown[] = [];
        for (let t = s.from; t < s.to; t += GRID) {
          if (offered.has(t) !== valid(t)) wrong.push({ t: new Date(t), offered: offered.has(t) });
          if ((t / GRID) % 7 === 0) {
            const ev = evaluateStart(schedule, new Date(t), s.durationMinutes, s.bufferMinutes);
            if (
              ev.withinWorkingHours !== insideHours(t) ||
              (ev.conflicts.length === 0) !== free(t)
            ) {
              wrong.push({ t: new Date(t), evaluation: ev });
            }
          }
        }
        expect(wrong).toEqual([]);
      }),
      { numRuns: 150 },
    );
  });
});
