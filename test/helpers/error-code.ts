import { CastellanError } from '../../workload-identity/index.js';

/** The CastellanError code `fn` throws, or undefined when it returns; other errors propagate. */
export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof CastellanError) return err.code;
    throw err;
  }
  return undefined;
}

/** The CastellanError code and message `p` rejects with, or undefined when it resolves. */
export async function failureOf(p: Promise<unknown>): Promise<{ code: string; message: string } | undefined> {
  try {
    await p;
  } catch (err) {
    if (err instanceof CastellanError) return { code: err.code, message: err.message };
    throw err;
  }
  return undefined;
}

/** The CastellanError code `p` rejects with, or undefined when it resolves. */
export async function asyncCodeOf(p: Promise<unknown>): Promise<string | undefined> {
  return (await failureOf(p))?.code;
}

/** The CastellanError `p` rejects with; fails the test when it resolves or rejects with anything else. */
export async function rejectionOf(p: Promise<unknown>): Promise<CastellanError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof CastellanError)) throw new Error(`expected a CastellanError, got ${err === undefined ? 'a resolved promise' : String(err)}`);
  return err;
}
