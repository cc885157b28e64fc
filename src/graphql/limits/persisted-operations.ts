import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** An allowlist of operation documents, by the SHA-256 hash (hex) of their text. */
export interface PersistedOperations {
  byHash(hash: string): string | undefined;
  readonly size: number;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * Reads the persisted operations of the first-party front ends: a JSON array of documents, or an
 * object mapping each document's SHA-256 (hex) to its text, as Apollo's persisted-query manifests
 * do. A hash that does not match its document stops the start.
 */
export function loadPersistedOperations(file: string): PersistedOperations {
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as unknown;
  const map = new Map<string, string>();
  if (Array.isArray(parsed)) {
    for (const doc of parsed) {
      if (typeof doc !== 'string') throw new Error(`${file}: every entry must be a document`);
      map.set(sha256(doc), doc);
    }
  } else if (parsed && typeof parsed === 'object') {
    for (const [hash, doc] of Object.entries(parsed as Record<string, unknown>)) {
      if (typeof doc !== 'string' || sha256(doc) !== hash.toLowerCase()) {
        throw new Error(`${file}: the document of ${hash} does not have that SHA-256 hash`);
      }
      map.set(hash.toLowerCase(), doc);
    }
  } else {
    throw new Error(`${file}: expected a JSON array or object of operation documents`);
  }
  return { byHash: (hash) => map.get(hash.toLowerCase()), size: map.size };
}
