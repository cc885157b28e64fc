import {
  RETELL_WINDOW_MS,
  signCalcom,
  signRetell,
  verifyCalcomSignature,
  verifyRetellSignature,
} from '../../src/webhooks/signatures';
import { calcomEnvelope, retellEnvelope } from '../../src/webhooks/envelope';
import { backoffDelayMs } from '../../src/webhooks/worker';

const body = (s: string) => Buffer.from(s, 'utf8');

describe('Retell signature', () => {
  const vectorBody = '{"event":"call_ended"}';
  const vectorTs = 1700000000000;
  const vectorDigest = '07024cabe7dd8f6d1c6e4a8324ca92c812e6ad4a7ee506c04f7e462e3321823e';

  test('the official SDK test vector verifies', () => {
    expect(signRetell(vectorBody, 'test-api-key', vectorTs)).toBe(
      `v=${vectorTs},d=${vectorDigest}`,
    );
    expect(
      verifyRetellSignature(
        body(vectorBody),
        `v=${vectorTs},d=${vectorDigest}`,
        ['test-api-key'],
        vectorTs,
      ),
    ).toEqual({ ok: true });
    // Upper-case hex is accepted, as the SDK's case-insensitive pattern does.
    expect(
      verifyRetellSignature(
        body(vectorBody),
        `v=${vectorTs},d=${vectorDigest.toUpperCase()}`,
        ['test-api-key'],
        vectorTs,
      ),
    ).toEqual({ ok: true });
  });

  test('any of several active keys verifies (rotation)', () => {
    const header = signRetell(vectorBody, 'new-key', vectorTs);
    expect(
      verifyRetellSignature(body(vectorBody), header, ['old-key', 'new-key'], vectorTs),
    ).toEqual({ ok: true });
  });

  const now = vectorTs;
  const good = `v=${vectorTs},d=${vectorDigest}`;
  test.each([
    ['missing', undefined, 'missing'],
    ['empty', '', 'missing'],
    ['malformed', 'sha256=abc', 'malformed'],
    ['no timestamp', `d=${vectorDigest}`, 'malformed'],
    ['seconds and order swapped', `d=${vectorDigest},v=${vectorTs}`, 'malformed'],
    ['short digest', `v=${vectorTs},d=07024cab`, 'malformed'],
    ['non-hex digest', `v=${vectorTs},d=${'z'.repeat(64)}`, 'malformed'],
    ['forged digest', `v=${vectorTs},d=${'0'.repeat(64)}`, 'mismatch'],
    ['timestamp changed', `v=${vectorTs + 1},d=${vectorDigest}`, 'mismatch'],
  ])('%s is refused', (_name, header, reason) => {
    expect(verifyRetellSignature(body(vectorBody), header, ['test-api-key'], now)).toEqual({
      ok: false,
      reason,
    });
  });

  test('tampered and re-serialised bodies are refused', () => {
    expect(
      verifyRetellSignature(body('{"event":"call_started"}'), good, ['test-api-key'], now),
    ).toEqual({
      ok: false,
      reason: 'mismatch',
    });
    // Same JSON value, different bytes.
    expect(
      verifyRetellSignature(body('{ "event": "call_ended" }'), good, ['test-api-key'], now),
    ).toEqual({
      ok: false,
      reason: 'mismatch',
    });
    expect(verifyRetellSignature(body(vectorBody + '\n'), good, ['test-api-key'], now)).toEqual({
      ok: false,
      reason: 'mismatch',
    });
  });

  test('wrong key is refused', () => {
    expect(verifyRetellSignature(body(vectorBody), good, ['another-key'], now)).toEqual({
      ok: false,
      reason: 'mismatch',
    });
    expect(verifyRetellSignature(body(vectorBody), good, [], now)).toEqual({
      ok: false,
      reason: 'unconfigured',
    });
  });

  test('the five-minute window holds in both directions', () => {
    const k = ['test-api-key'];
    expect(verifyRetellSignature(body(vectorBody), good, k, now + RETELL_WINDOW_MS)).toEqual({
      ok: true,
    });
    expect(verifyRetellSignature(body(vectorBody), good, k, now - RETELL_WINDOW_MS)).toEqual({
      ok: true,
    });
    expect(verifyRetellSignature(body(vectorBody), good, k, now + RETELL_WINDOW_MS + 1)).toEqual({
      ok: false,
      reason: 'stale',
    });
    expect(verifyRetellSignature(body(vectorBody), good, k, now - RETELL_WINDOW_MS - 1)).toEqual({
      ok: false,
      reason: 'future',
    });
  });
});

describe('Cal.com signature', () => {
  const raw =
    '{"triggerEvent":"BOOKING_CREATED","createdAt":"2027-01-01T00:00:00.000Z","payload":{"uid":"u1"}}';
  test('hex HMAC of the raw body with any active secret verifies', () => {
    expect(verifyCalcomSignature(body(raw), signCalcom(raw, 's1'), ['s1'])).toEqual({ ok: true });
    expect(verifyCalcomSignature(body(raw), signCalcom(raw, 's2'), ['s1', 's2'])).toEqual({
      ok: true,
    });
  });
  test.each([
    ['missing', undefined, 'missing'],
    ['no-secret-provided', 'no-secret-provided', 'missing'],
    ['prefixed', `sha256=${signCalcom(raw, 's1')}`, 'malformed'],
    ['base64', Buffer.from(signCalcom(raw, 's1'), 'hex').toString('base64'), 'malformed'],
    ['wrong secret', signCalcom(raw, 'other'), 'mismatch'],
    ['re-serialised body', signCalcom(JSON.stringify(JSON.parse(raw), null, 1), 's1'), 'mismatch'],
  ])('%s is refused', (_name, header, reason) => {
    expect(verifyCalcomSignature(body(raw), header, ['s1'])).toEqual({ ok: false, reason });
  });
});

describe('dedupe keys', () => {
  test('Retell: event and call id', () => {
    const r = retellEnvelope(body('{"event":"call_ended","call":{"call_id":"c1","x":1}}'));
    expect(r.ok && r.envelope.dedupeKey).toBe('call_ended:c1');
    expect(retellEnvelope(body('[1]')).ok).toBe(false);
    expect(retellEnvelope(body('{"call":{}}')).ok).toBe(false);
    expect(retellEnvelope(body('not json')).ok).toBe(false);
  });
  test('Cal.com: trigger, uid and createdAt', () => {
    const r = calcomEnvelope(
      body(
        '{"triggerEvent":"BOOKING_CREATED","createdAt":"2027-01-01T00:00:00.000Z","payload":{"uid":"u1"}}',
      ),
    );
    expect(r.ok && r.envelope.dedupeKey).toBe('BOOKING_CREATED:u1:2027-01-01T00:00:00.000Z');
  });
});

test('backoff doubles up to the cap, with jitter', () => {
  const mid = () => 0.5;
  expect(backoffDelayMs(1, 1000, 60_000, mid)).toBe(1000);
  expect(backoffDelayMs(2, 1000, 60_000, mid)).toBe(2000);
  expect(backoffDelayMs(5, 1000, 60_000, mid)).toBe(16_000);
  expect(backoffDelayMs(20, 1000, 60_000, mid)).toBe(60_000);
  expect(backoffDelayMs(1, 1000, 60_000, () => 0)).toBe(800);
});
