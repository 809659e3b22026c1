/**
 * Errors with stable codes (undici-style) and the exit code the CLI maps them to.
 * exit 2 = bad usage or bad input, exit 1 = runtime failure.
 */
export type ErrorCode =
  | 'STNN_USAGE'
  | 'STNN_BAD_INPUT'
  | 'STNN_CAPTURE_TRUNCATED'
  | 'STNN_CONFIG'
  | 'STNN_MODEL'
  | 'STNN_CAPABILITY'
  | 'STNN_RUNTIME';

const EXIT: Record<ErrorCode, number> = {
  STNN_USAGE: 2,
  STNN_BAD_INPUT: 2,
  STNN_CAPTURE_TRUNCATED: 1,
  STNN_CONFIG: 2,
  STNN_MODEL: 2,
  STNN_CAPABILITY: 2,
  STNN_RUNTIME: 1,
};

const kStnnError = Symbol.for('stnn.error');

export class StnnError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: number;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'StnnError';
    this.code = code;
    this.exitCode = EXIT[code];
    (this as unknown as Record<symbol, boolean>)[kStnnError] = true;
  }
  static override [Symbol.hasInstance](obj: unknown): boolean {
    return typeof obj === 'object' && obj !== null && (obj as Record<symbol, unknown>)[kStnnError] === true;
  }
}

export const usageError = (msg: string) => new StnnError('STNN_USAGE', msg);
export const inputError = (msg: string) => new StnnError('STNN_BAD_INPUT', msg);

/** An error as it crosses a thread boundary (structured clone keeps neither class nor code). */
export interface WireError {
  code: string;
  message: string;
}

export function toWireError(e: unknown): WireError {
  const err = e as { code?: unknown; message?: unknown };
  return e instanceof StnnError
    ? { code: e.code, message: e.message }
    : { code: 'STNN_RUNTIME', message: typeof err?.message === 'string' ? err.message : String(e) };
}

/** The StnnError again; an unknown code becomes `fallback`. */
export function fromWireError(w: WireError, fallback: ErrorCode = 'STNN_RUNTIME'): StnnError {
  return new StnnError(Object.hasOwn(EXIT, w.code) ? (w.code as ErrorCode) : fallback, w.message);
}
