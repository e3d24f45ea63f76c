/**
 * The one base class for every error Castellan raises on purpose.
 *
 * `code` is a stable string from a literal union owned by the module that throws it; callers branch on
 * `code`, never on `message`. The message is written for the person who has to fix the input and is
 * prefixed by the module (`spiffeid: ...`, `x509svid: ...`, `csr: ...`). Internal detail that must not
 * reach a client goes into `cause` (logged, never sent).
 *
 * @example
 *   throw new CastellanError('ERR_SPIFFE_ID_SCHEME', 'spiffeid: scheme is "https", want "spiffe"');
 */
export class CastellanError<C extends string = string> extends Error {
  readonly code: C;
  /** Typed context for logs and machine-readable output (never secrets). */
  readonly context: Readonly<Record<string, unknown>>;

  constructor(code: C, message: string, options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CastellanError';
    this.code = code;
    this.context = Object.freeze({ ...(options.context ?? {}) });
  }
}

/** True when `err` is a CastellanError, optionally with one of the given codes. */
export function isCastellanError<C extends string>(err: unknown, ...codes: C[]): err is CastellanError<C> {
  return err instanceof CastellanError && (codes.length === 0 || (codes as string[]).includes(err.code));
}
