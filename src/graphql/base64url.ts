/**
 * base64url of a short text, for ids and cursors written once per row: the text is written into
 * one reusable scratch buffer instead of a new Buffer per value. Same output as
 * `Buffer.from(text).toString('base64url')`; a text that might not fit takes that path.
 */
const SCRATCH = Buffer.allocUnsafeSlow(1024);
/** UTF-8 takes at most 3 bytes per UTF-16 code unit. */
const MAX_CHARS = Math.floor(SCRATCH.length / 3);

export function base64url(text: string): string {
  if (text.length > MAX_CHARS) return Buffer.from(text).toString('base64url');
  const length = SCRATCH.write(text, 0, 'utf8');
  return SCRATCH.toString('base64url', 0, length);
}
