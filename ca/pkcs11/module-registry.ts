import { createHash, timingSafeEqual } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { caError } from '../errors.js';
import { ckr, pkcs11Error, type Binding, type Handle } from './binding.js';

/**
 * A PKCS#11 module loaded into this process. PKCS#11 v2.40 §5.4: C_Initialize may be called once per
 * process until C_Finalize, and login state belongs to the application (every session of a token shares
 * it, and C_Logout in one session logs all of them out). So modules and logins are counted here, once
 * per process, and finalized or logged out only when their last user lets go.
 */
export interface LoadedModule {
  readonly binding: Binding;
  readonly lib: InstanceType<Binding['PKCS11']>;
  readonly path: string;
  /** Whether the module may be called from libuv worker threads (initialized with CKF_OS_LOCKING_OK). */
  readonly threadSafe: boolean;
}

interface ModuleEntry extends LoadedModule {
  refs: number;
  /** False when another library in this process initialized the module first: we must not finalize it. */
  readonly ownsInit: boolean;
  readonly logins: Map<string, { refs: number; readonly pinHash: Buffer }>;
}

// Keyed by the module's real path, shared through globalThis so that two copies of this file in one
// process (a bundler, src and dist) still see one registry.
const REGISTRY_KEY = Symbol.for('castellan.pkcs11.modules');
const registry: Map<string, ModuleEntry> = (() => {
  const global = globalThis as Record<symbol, unknown>;
  global[REGISTRY_KEY] ??= new Map<string, ModuleEntry>();
  return global[REGISTRY_KEY] as Map<string, ModuleEntry>;
})();

/** Loads and initializes `modulePath`, or takes another reference to it. Pair with releaseModule. */
export function acquireModule(binding: Binding, modulePath: string): LoadedModule {
  let real: string;
  try {
    real = realpathSync(modulePath);
  } catch (cause) {
    throw caError(
      'ERR_PKCS11_MODULE',
      `pkcs11: module ${modulePath} not found (${(cause as NodeJS.ErrnoException).code ?? 'error'}); give the path of the vendor's PKCS#11 library (.so)`,
      { cause },
    );
  }
  const known = registry.get(real);
  if (known) {
    known.refs++;
    return known;
  }
  const lib = new binding.PKCS11();
  try {
    lib.load(real);
  } catch (cause) {
    throw caError('ERR_PKCS11_MODULE', `pkcs11: ${modulePath} is not a loadable PKCS#11 module: ${(cause as Error).message}`, { cause });
  }
  let ownsInit = true;
  let threadSafe = true;
  try {
    lib.C_Initialize({ flags: binding.CKF_OS_LOCKING_OK });
  } catch (err) {
    const name = ckr(err);
    if (name === 'CKR_CRYPTOKI_ALREADY_INITIALIZED') {
      ownsInit = false;
      threadSafe = false;
    } else if (name === 'CKR_CANT_LOCK' || name === 'CKR_ARGUMENTS_BAD') {
      threadSafe = false;
      try {
        lib.C_Initialize();
      } catch (cause) {
        lib.close();
        throw pkcs11Error('ERR_PKCS11_MODULE', `C_Initialize of ${modulePath} failed`, cause);
      }
    } else {
      lib.close();
      throw pkcs11Error('ERR_PKCS11_MODULE', `C_Initialize of ${modulePath} failed`, err);
    }
  }
  const entry: ModuleEntry = { binding, lib, path: real, threadSafe, refs: 1, ownsInit, logins: new Map() };
  registry.set(real, entry);
  return entry;
}

/** Drops one reference; the last one finalizes and unloads the module. */
export function releaseModule(module: LoadedModule): void {
  const entry = registry.get(module.path);
  if (!entry || entry !== module) return;
  if (--entry.refs > 0) return;
  registry.delete(entry.path);
  try {
    if (entry.ownsInit) entry.lib.C_Finalize();
  } catch {
    // the process is letting go of the module either way
  }
  try {
    entry.lib.close();
  } catch {
    // as above
  }
}

const pinHash = (pin: string) => createHash('sha256').update(pin, 'utf8').digest();

/**
 * Logs the user in to the token behind `session` (one login per token per process, counted). A second
 * user of the same token must bring the same PIN: the token would accept any, being logged in already.
 */
export function login(module: LoadedModule, tokenKey: string, session: Handle, pin: string, tokenName: string): void {
  const entry = module as ModuleEntry;
  const hash = pinHash(pin);
  const known = entry.logins.get(tokenKey);
  if (known && !timingSafeEqual(known.pinHash, hash)) {
    throw caError('ERR_PKCS11_PIN', `pkcs11: wrong PIN for token ${tokenName} (it differs from the PIN this process logged in with)`);
  }
  userLogin(module, session, pin, tokenName);
  if (known) known.refs++;
  else entry.logins.set(tokenKey, { refs: 1, pinHash: hash });
}

/** C_Login as the normal user; "already logged in" counts as success. */
export function userLogin(module: LoadedModule, session: Handle, pin: string, tokenName: string): void {
  try {
    module.lib.C_Login(session, module.binding.CKU_USER, pin);
  } catch (err) {
    const name = ckr(err);
    if (name === 'CKR_USER_ALREADY_LOGGED_IN') return;
    if (name === 'CKR_PIN_INCORRECT' || name === 'CKR_PIN_INVALID' || name === 'CKR_PIN_LEN_RANGE') {
      throw caError('ERR_PKCS11_PIN', `pkcs11: wrong PIN for token ${tokenName} (${name}); repeated failures may lock the token`, { cause: err });
    }
    if (name === 'CKR_PIN_LOCKED' || name === 'CKR_PIN_EXPIRED' || name === 'CKR_USER_PIN_NOT_INITIALIZED') {
      throw caError('ERR_PKCS11_PIN', `pkcs11: the user PIN of token ${tokenName} cannot be used (${name}); the token's security officer must reset it`, { cause: err });
    }
    throw pkcs11Error('ERR_PKCS11', `login to token ${tokenName} failed`, err);
  }
}

/** Drops one login reference; the last one logs the token out. */
export function logout(module: LoadedModule, tokenKey: string, session: Handle): void {
  const entry = module as ModuleEntry;
  const known = entry.logins.get(tokenKey);
  if (!known) return;
  if (--known.refs > 0) return;
  entry.logins.delete(tokenKey);
  try {
    module.lib.C_Logout(session);
  } catch {
    // a session already gone is logged out
  }
}
