import { randomUUID } from 'node:crypto';
import type { RequestContext } from '../../src/context/request-context';
import { base64url } from '../../src/graphql/base64url';
import { decodeCursor, encodeCursor } from '../../src/graphql/connection';
import { fromGlobalId, toGlobalId } from '../../src/graphql/global-id';

/** The per-row encoders of global ids and cursors: the same text as before, decoded as before. */

const company = randomUUID();
let crossTenant = 0;
const ctx = {
  companyId: company,
  deps: { metrics: { crossTenantAttempts: { inc: () => (crossTenant += 1) } } },
} as unknown as RequestContext;

const legacy = (text: string) => Buffer.from(text).toString('base64url');

test('base64url gives what Buffer gives, for every length, non-ASCII text and long text', () => {
  const samples = ['', 'a', 'ab', 'abc', 'abcd', 'Zoë Ångström', '日本語のテキスト', '\u{1F600}x'];
  for (let n = 0; n < 40; n += 1) samples.push('x'.repeat(n));
  samples.push('é'.repeat(400), 'y'.repeat(5000));
  for (const text of samples) expect(base64url(text)).toBe(legacy(text));
});

test('global ids: the same text as before, and they round-trip', () => {
  for (const type of ['Appointment', 'Staff', 'Customer', 'Service']) {
    const id = randomUUID();
    const global = toGlobalId(type, company, id);
    expect(global).toBe(legacy(`${type}:${company}:${id}`));
    expect(fromGlobalId(global, 'id')).toEqual({ type, companyId: company, id });
  }
});

test('global ids: forged or malformed ones are still refused on their field', () => {
  const forged = [
    legacy(`Appointment:${company}:${randomUUID()}:extra`),
    legacy(`appointment:${company}:${randomUUID()}`),
    legacy(`Appointment:${company}:1' or 1=1`),
    legacy(`Appointment:not-a-uuid:${randomUUID()}`),
    'x'.repeat(201),
    '',
  ];
  for (const value of forged) {
    expect(() => fromGlobalId(value, 'input.id')).toThrow(
      expect.objectContaining({ code: 'BAD_USER_INPUT', field: 'input.id' }),
    );
  }
});

test('cursors: the JSON text of {c, k, v, i} as before, and they round-trip', () => {
  const id = randomUUID();
  for (const v of ['2026-03-01T09:30:00.000Z', 'Zoë "Q" Ångström\\', 42, -1.5]) {
    expect(encodeCursor(company, 'starts_at', v, id)).toBe(
      legacy(JSON.stringify({ c: company, k: 'starts_at', v, i: id })),
    );
  }
  const at = '2026-03-01T09:30:00.000Z';
  expect(
    decodeCursor(ctx, encodeCursor(company, 'starts_at', at, id), 'after', { key: 'starts_at' }),
  ).toEqual({
    c: company,
    k: 'starts_at',
    v: at,
    i: id,
  });
  const name = encodeCursor(company, 'name', 'Zoë "Q" Ångström\\', id);
  expect(decodeCursor(ctx, name, 'after', { key: 'name' }).v).toBe('Zoë "Q" Ångström\\');
});

test('cursors: forged, foreign or mismatched ones are refused as before', () => {
  const id = randomUUID();
  const at = '2026-03-01T09:30:00.000Z';
  const invalid = [
    legacy(JSON.stringify({ c: company, k: 'starts_at', v: at, i: id, x: 1 })),
    legacy(JSON.stringify({ c: company, k: 'starts_at', v: '2026-02-30T09:30:00Z', i: id })),
    legacy(JSON.stringify({ c: company, k: 'starts_at', v: at, i: "1' or 1=1" })),
    legacy('not json'),
    'has spaces',
  ];
  for (const value of invalid) {
    expect(() => decodeCursor(ctx, value, 'after')).toThrow(
      expect.objectContaining({ code: 'BAD_USER_INPUT', field: 'after' }),
    );
  }
  const before = crossTenant;
  expect(() =>
    decodeCursor(ctx, encodeCursor(randomUUID(), 'starts_at', at, id), 'before'),
  ).toThrow(expect.objectContaining({ code: 'NOT_FOUND', field: 'before' }));
  expect(crossTenant).toBe(before + 1);
  expect(() =>
    decodeCursor(ctx, encodeCursor(company, 'created_at', at, id), 'after', { key: 'starts_at' }),
  ).toThrow(expect.objectContaining({ code: 'BAD_USER_INPUT', field: 'after' }));
});
