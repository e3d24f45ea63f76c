import type { CaStateFile } from './ca-state.js';
import { caError } from './errors.js';
import type { KeyProvider } from './key-provider.js';
import { openPkcs11KeyProvider, type Pkcs11ProviderOptions } from './pkcs11/index.js';
import { softwareKeyProvider } from './software-key-provider.js';

/** Environment variables that give the PKCS#11 user PIN to every command (docs/pkcs11.md). */
export const PKCS11_PIN_FILE_ENV = 'CASTELLAN_PKCS11_PIN_FILE';
export const PKCS11_PIN_ENV = 'CASTELLAN_PKCS11_PIN';

/** Where the CA state says its keys are: which module and token (never the PIN). */
export type StateKeys = NonNullable<CaStateFile['keys']>;

const open = new Map<string, Promise<KeyProvider>>();

/**
 * The key provider a CA state names: software keys, or the PKCS#11 token recorded at `ca init`
 * (module and token; the PIN comes from `pin`, else CASTELLAN_PKCS11_PIN_FILE or CASTELLAN_PKCS11_PIN).
 * One provider per token per process, closed by closeKeyProviders().
 *
 * @example const keys = await keyProviderFor(snapshot.state.keys);
 */
export async function keyProviderFor(keys: StateKeys | undefined, pin: Pick<Pkcs11ProviderOptions, 'pinFile' | 'pinEnv'> = {}): Promise<KeyProvider> {
  const p = keys?.pkcs11;
  if (!p) return softwareKeyProvider;
  const key = `${p.module}\0${p.token ?? ''}\0${p.slot ?? ''}`;
  let provider = open.get(key);
  if (!provider) {
    const pinSource = pin.pinFile !== undefined || pin.pinEnv !== undefined ? pin : pinFromEnv();
    provider = openPkcs11KeyProvider({ module: p.module, ...(p.token !== undefined ? { token: p.token } : {}), ...(p.slot !== undefined ? { slot: p.slot } : {}), ...pinSource });
    open.set(key, provider);
    provider.catch(() => open.delete(key));
  }
  return provider;
}

/** Closes every provider keyProviderFor opened (logs out of tokens). */
export async function closeKeyProviders(): Promise<void> {
  const all = [...open.values()];
  open.clear();
  for (const p of all) await (await p.catch(() => undefined))?.close();
}

function pinFromEnv(): Pick<Pkcs11ProviderOptions, 'pinFile' | 'pinEnv'> {
  const file = process.env[PKCS11_PIN_FILE_ENV];
  if (file) return { pinFile: file };
  if (process.env[PKCS11_PIN_ENV] !== undefined) return { pinEnv: PKCS11_PIN_ENV };
  throw caError('ERR_PKCS11_PIN', `pkcs11: this CA's keys are in a PKCS#11 token: give its PIN in a file named by ${PKCS11_PIN_FILE_ENV} (0600), or in ${PKCS11_PIN_ENV}`);
}
