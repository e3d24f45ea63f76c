import { caError, type CaErrorCode } from '../errors.js';

/** The pkcs11js module: the PKCS11 class, the CK* constants and Pkcs11Error. */
export type Binding = typeof import('pkcs11js');
export type Handle = Buffer;

let loaded: Promise<Binding> | undefined;

/**
 * Loads the native binding on first use only, so a CA that keeps its keys in files never loads native
 * PKCS#11 code (and still starts where pkcs11js could not be built).
 */
export function loadBinding(): Promise<Binding> {
  loaded ??= import('pkcs11js').then(
    (m) => ((m as { default?: Binding }).default ?? m) as Binding,
    (cause: unknown) => {
      loaded = undefined;
      throw caError('ERR_PKCS11_MODULE', 'pkcs11: the pkcs11js binding did not load; reinstall Castellan where a C++ compiler is available (npm rebuild pkcs11js)', { cause });
    },
  );
  return loaded;
}

/** The CKR_* name of a PKCS#11 failure (`CKR_PIN_INCORRECT`), or undefined for other errors. */
export function ckr(err: unknown): string | undefined {
  const message = err instanceof Error ? err.message : '';
  return /^CKR_[A-Z0-9_]+/.exec(message)?.[0];
}

/** Wraps a PKCS#11 failure in a coded error whose message names the call and the CKR code (never a PIN). */
export function pkcs11Error(code: CaErrorCode, what: string, cause: unknown): Error {
  const name = ckr(cause) ?? (cause instanceof Error ? cause.message : String(cause));
  return caError(code, `pkcs11: ${what}: ${name}`, { cause });
}
