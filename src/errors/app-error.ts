/**
 * The error taxonomy shared by GraphQL, the webhook shims and the voice-agent endpoints. Each code
 * has a fixed meaning and HTTP status; messages are safe to show to a client. Anything else that
 * is thrown is an internal error: logged with the request id, answered with a generic message.
 */
export const ERROR_CODES = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  BAD_USER_INPUT: 400,
  CONFLICT: 409,
  RATE_LIMITED: 429,
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface AppErrorOptions {
  /** The input field the error concerns, as a path such as `input.startsAt`. */
  field?: string;
  /** Extra, client-safe details. */
  details?: Record<string, unknown>;
  cause?: unknown;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly field?: string;
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.field = options.field;
    this.details = options.details;
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code];
  }
}

export const badInput = (field: string, message: string, details?: Record<string, unknown>) =>
  new AppError('BAD_USER_INPUT', message, { field, details });

/** NOT_FOUND for `what`, naming the input `field` that pointed at it when there is one. */
export const notFound = (what: string, field?: string) =>
  new AppError('NOT_FOUND', `${what} not found`, field === undefined ? {} : { field });

export const forbidden = (message = 'Not allowed') => new AppError('FORBIDDEN', message);

/** Raised when code reaches tenant data without a tenant; a programming error, never client input. */
export class TenantContextMissingError extends AppError {
  constructor(table: string) {
    super('INTERNAL', `query on tenant table ${table} without a tenant context`);
    this.name = 'TenantContextMissingError';
  }
}

/** Raised when input names a company other than the one in the context. */
export class CrossTenantError extends AppError {
  constructor(message = 'Not found') {
    super('NOT_FOUND', message);
    this.name = 'CrossTenantError';
  }
}
