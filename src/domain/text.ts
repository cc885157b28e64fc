import { badInput } from '../errors/app-error';

/** Trims a required text input and checks its length; empty is BAD_USER_INPUT on `field`. */
export function requiredText(value: unknown, field: string, max = 200): string {
  if (typeof value !== 'string') throw badInput(field, `${field} must be text`);
  const v = value.trim();
  if (v.length === 0) throw badInput(field, `${field} must not be empty`);
  if (v.length > max) throw badInput(field, `${field} must be at most ${max} characters`);
  return v;
}

/**
 * Trims an optional text input: empty becomes null, undefined stays undefined (an update leaves
 * the stored value), anything longer than `max` is BAD_USER_INPUT on `field`.
 */
export function optionalText(value: unknown, field: string, max = 2000): string | null | undefined {
  if (value === undefined) return undefined;
  if (value === null) return null;
  if (typeof value !== 'string') throw badInput(field, `${field} must be text`);
  const v = value.trim();
  if (v.length > max) throw badInput(field, `${field} must be at most ${max} characters`);
  return v.length ? v : null;
}

/** Escapes LIKE wildcards in user search text. */
export function likePattern(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}
