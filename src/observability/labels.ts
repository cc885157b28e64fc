/**
 * A label whose values come from somewhere the server does not fully control (operation names,
 * route templates, error codes, company ids): the first `cap` distinct values are kept, every later
 * one folds into `overflow`, so no caller can grow the number of series without bound.
 */
export class BoundedLabel {
  private readonly seen = new Set<string>();

  constructor(
    readonly cap: number,
    readonly overflow: string,
  ) {}

  value(raw: string): string {
    if (this.seen.has(raw)) return raw;
    if (this.seen.size >= this.cap) return this.overflow;
    this.seen.add(raw);
    return raw;
  }

  get size(): number {
    return this.seen.size;
  }
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** The request method as a label; anything unusual is OTHER. */
export function methodLabel(method: string | undefined): string {
  const upper = (method ?? '').toUpperCase();
  return METHODS.has(upper) ? upper : 'OTHER';
}

/** 2xx, 4xx, 5xx... */
export function statusClass(status: number): string {
  return status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : 'other';
}

const ID_LIKE =
  /^(\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{16,}|.*\d.*\d.*\d.*)$/i;

/**
 * A mount path as it appears in `req.baseUrl` is the matched URL, not its pattern; segments that
 * look like identifiers are replaced so a parameter in a mount path cannot become a label value.
 */
export function templateOfPath(path: string): string {
  return path
    .split('/')
    .map((segment) => (segment.length > 40 || ID_LIKE.test(segment) ? ':param' : segment))
    .join('/');
}
