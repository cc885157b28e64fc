/**
 * Text checks for everything a client sends: GraphQL arguments (applied to every String and ID
 * argument by `src/graphql/text-input.ts`) and webhook payloads. Postgres cannot store U+0000, and
 * `jsonb` refuses unpaired UTF-16 surrogates, so neither may get past the edge; single-line fields
 * (names, phone numbers, ids, filters) refuse control characters too.
 */

/** Default longest single-line value (names, ids, search text). */
export const SINGLE_LINE_MAX = 1_000;
/** Default longest multi-line value (notes, reasons, message bodies). */
export const MULTI_LINE_MAX = 10_000;

/** Argument and input field names whose values may span several lines. */
export const MULTI_LINE_FIELDS: ReadonlySet<string> = new Set([
  'address',
  'body',
  'comment',
  'description',
  'message',
  'note',
  'notes',
  'reason',
  'resolution',
  'summary',
]);

// NUL is refused everywhere, separately, for a clearer message.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const NUL = /\u0000/;
// C0 and C1 controls, DEL, and the line/paragraph separators.
// eslint-disable-next-line no-control-regex
const SINGLE_LINE_CONTROL = /[\u0001-\u001f\u007f-\u009f\u2028\u2029]/;
// The same, except tab, line feed and carriage return.
// eslint-disable-next-line no-control-regex
const MULTI_LINE_CONTROL = /[\u0001-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

export interface TextRule {
  multiline: boolean;
  max: number;
}

export function ruleFor(name: string): TextRule {
  const multiline = MULTI_LINE_FIELDS.has(name);
  return { multiline, max: multiline ? MULTI_LINE_MAX : SINGLE_LINE_MAX };
}

// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** True when the string holds a UTF-16 surrogate without its partner. */
export function hasLoneSurrogate(value: string): boolean {
  return LONE_SURROGATE.test(value);
}

/** What is wrong with `value` under `rule`, as the end of a sentence, or null when it is fine. */
export function textProblem(value: string, rule: TextRule): string | null {
  if (NUL.test(value)) return 'must not contain NUL characters';
  if (hasLoneSurrogate(value)) return 'must not contain unpaired surrogate characters';
  if ((rule.multiline ? MULTI_LINE_CONTROL : SINGLE_LINE_CONTROL).test(value)) {
    return 'must not contain control characters';
  }
  if (value.length > rule.max) return `must be at most ${rule.max} characters`;
  return null;
}

/** Most levels of nesting accepted in client JSON (GraphQL JSON arguments, webhook bodies). */
export const MAX_JSON_DEPTH = 64;

/**
 * Finds the first string or key in a parsed JSON value that cannot be stored (NUL in a key, an
 * unpaired surrogate anywhere), or a nesting deeper than `maxDepth`. Returns the problem with the
 * path it was found at, or null. Values may carry NUL: the JSON copy keeps it only in raw text.
 */
export function jsonProblem(
  value: unknown,
  options: { maxDepth?: number; allowNulInValues?: boolean; maxString?: number } = {},
): { path: string; problem: string } | null {
  const maxDepth = options.maxDepth ?? MAX_JSON_DEPTH;
  const stack: { value: unknown; path: string; depth: number }[] = [{ value, path: '', depth: 0 }];
  while (stack.length) {
    const { value: v, path, depth } = stack.pop()!;
    if (typeof v === 'string') {
      if (hasLoneSurrogate(v)) return { path, problem: 'holds an unpaired surrogate character' };
      if (!options.allowNulInValues && v.includes('\u0000')) {
        return { path, problem: 'holds a NUL character' };
      }
      if (options.maxString !== undefined && v.length > options.maxString) {
        return { path, problem: `holds a string longer than ${options.maxString} characters` };
      }
      continue;
    }
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= maxDepth) return { path, problem: `nests deeper than ${maxDepth} levels` };
    if (Array.isArray(v)) {
      v.forEach((item, i) =>
        stack.push({ value: item, path: path ? `${path}.${i}` : String(i), depth: depth + 1 }),
      );
      continue;
    }
    for (const [key, item] of Object.entries(v as Record<string, unknown>)) {
      const at = path ? `${path}.${key}` : key;
      if (hasLoneSurrogate(key) || key.includes('\u0000')) {
        return { path: path || '(root)', problem: 'has a key that cannot be stored' };
      }
      stack.push({ value: item, path: at, depth: depth + 1 });
    }
  }
  return null;
}

/**
 * The deepest nesting of arrays and objects in JSON text, found without parsing it (so a body of
 * a million `[` cannot exhaust the parser's stack). Stops counting once `limit` is passed.
 */
export function jsonDepth(text: string, limit = Number.POSITIVE_INFINITY): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      depth++;
      if (depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}
