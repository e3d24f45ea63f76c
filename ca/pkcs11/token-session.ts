import type { Mechanism, Template } from 'pkcs11js';
import { caError } from '../errors.js';
import { ckr, pkcs11Error, type Binding, type Handle } from './binding.js';
import { acquireModule, login, logout, releaseModule, userLogin, type LoadedModule } from './module-registry.js';

/** Which token to use: its label, its slot id, or both (both must then match). */
export interface TokenSelector {
  readonly token?: string;
  readonly slot?: number;
}

/** A key the session signs with: found again by CKA_ID and CKA_LABEL after the session is re-opened. */
export interface KeyRef {
  readonly id: Buffer;
  readonly label: string | undefined;
  handle: Handle;
  generation: number;
}

// Failures after which a new session and login may succeed (an HSM restarted, a session closed under us,
// another library in this process logged the token out).
const RECOVERABLE = new Set([
  'CKR_SESSION_HANDLE_INVALID',
  'CKR_SESSION_CLOSED',
  'CKR_USER_NOT_LOGGED_IN',
  'CKR_OBJECT_HANDLE_INVALID',
  'CKR_KEY_HANDLE_INVALID',
  'CKR_DEVICE_REMOVED',
  'CKR_TOKEN_NOT_PRESENT',
]);

const trimLabel = (s: string) => s.replace(/[\s\0]+$/, '');
const slotNumber = (slot: Handle) => Number(slot.readUIntLE(0, Math.min(slot.length, 6)));

/**
 * One logged-in read/write session on one token, reused for every operation of a provider, and re-opened
 * once when the token lost it. Everything is synchronous except key generation, which runs on a second
 * session off the event loop when the module allows threads.
 */
export class TokenSession {
  /** Bumped when the session is re-opened: object handles of older generations are stale. */
  generation = 0;
  private closed = false;

  private constructor(
    readonly module: LoadedModule,
    private slot: Handle,
    private session: Handle,
    readonly tokenLabel: string,
    private readonly selector: TokenSelector,
    private readonly pin: string,
    private readonly loginKey: string,
  ) {}

  get binding(): Binding {
    return this.module.binding;
  }

  /** Loads the module (once per process), finds the token, opens a session and logs in. */
  static open(binding: Binding, modulePath: string, selector: TokenSelector, pin: string): TokenSession {
    const module = acquireModule(binding, modulePath);
    let session: Handle | undefined;
    try {
      const { slot, label } = findToken(module, selector);
      session = openSession(module, slot, label);
      login(module, tokenKey(slot), session, pin, label);
      return new TokenSession(module, slot, session, label, selector, pin, tokenKey(slot));
    } catch (err) {
      if (session) closeQuietly(module, session);
      releaseModule(module);
      throw err;
    }
  }

  /**
   * Runs `fn` on the session; when the token lost the session or the login, opens a new one, logs in
   * again and runs `fn` once more.
   */
  run<T>(fn: (session: Handle) => T): T {
    if (this.closed) throw caError('ERR_PKCS11', `pkcs11: the key provider for token ${this.tokenLabel} is closed`);
    try {
      return fn(this.session);
    } catch (err) {
      const name = ckr(err);
      if (name === undefined || !RECOVERABLE.has(name)) throw err;
      this.reopen();
      return fn(this.session);
    }
  }

  private reopen(): void {
    closeQuietly(this.module, this.session);
    const { slot } = findToken(this.module, this.selector);
    const session = openSession(this.module, slot, this.tokenLabel);
    try {
      userLogin(this.module, session, this.pin, this.tokenLabel);
    } catch (err) {
      closeQuietly(this.module, session);
      throw err;
    }
    this.slot = slot;
    this.session = session;
    this.generation++;
  }

  /** Handles of the objects matching `template` (at most `max`). */
  find(template: Template, max = 8): Handle[] {
    return this.run((s) => {
      const lib = this.module.lib;
      lib.C_FindObjectsInit(s, template);
      try {
        return lib.C_FindObjects(s, max);
      } finally {
        lib.C_FindObjectsFinal(s);
      }
    });
  }

  /** One attribute, or undefined when the object has none or refuses to reveal it. */
  attribute(object: Handle, type: number): Buffer | undefined {
    try {
      return this.run((s) => this.module.lib.C_GetAttributeValue(s, object, [{ type }])[0]?.value);
    } catch (err) {
      const name = ckr(err);
      if (name === 'CKR_ATTRIBUTE_TYPE_INVALID' || name === 'CKR_ATTRIBUTE_SENSITIVE') return undefined;
      throw err;
    }
  }

  /** The handle of `key` in the current session generation (found again by CKA_ID/CKA_LABEL after a re-open). */
  keyHandle(key: KeyRef): Handle {
    if (key.generation !== this.generation) {
      const b = this.binding;
      const found = this.find(
        [{ type: b.CKA_CLASS, value: b.CKO_PRIVATE_KEY }, { type: b.CKA_ID, value: key.id }, ...(key.label !== undefined ? [{ type: b.CKA_LABEL, value: key.label }] : [])],
        2,
      );
      if (found.length !== 1) {
        throw caError('ERR_PKCS11_KEY_NOT_FOUND', `pkcs11: the CA key (id ${key.id.toString('hex')}) is no longer in token ${this.tokenLabel}`);
      }
      key.handle = found[0]!;
      key.generation = this.generation;
    }
    return key.handle;
  }

  /** C_SignInit + C_Sign, synchronously (PKCS#11 v2.40 §5.12). */
  sign(key: KeyRef, mechanism: Mechanism, data: Buffer, maxLength: number): Buffer {
    return this.run((s) => {
      const handle = this.keyHandle(key);
      this.module.lib.C_SignInit(s, mechanism, handle);
      return this.module.lib.C_Sign(s, data, Buffer.allocUnsafe(maxLength));
    });
  }

  /**
   * C_GenerateKeyPair in a session of its own, on a libuv thread when the module was initialized for
   * threads (an RSA-4096 key takes seconds; the CA keeps serving meanwhile).
   */
  async generateKeyPair(mechanism: Mechanism, publicTemplate: Template, privateTemplate: Template): Promise<{ publicKey: Handle; privateKey: Handle }> {
    if (!this.module.threadSafe) return this.run((s) => this.module.lib.C_GenerateKeyPair(s, mechanism, publicTemplate, privateTemplate));
    const session = this.run(() => openSession(this.module, this.slot, this.tokenLabel));
    try {
      return await this.module.lib.C_GenerateKeyPairAsync(session, mechanism, publicTemplate, privateTemplate);
    } finally {
      closeQuietly(this.module, session);
    }
  }

  /** Best effort: removes objects made by a generation that did not pass its checks. */
  destroy(objects: Handle[]): void {
    for (const o of objects) {
      try {
        this.run((s) => this.module.lib.C_DestroyObject(s, o));
      } catch {
        // reported by the caller's error; a leftover object is named there
      }
    }
  }

  /** Logs out (when this was the token's last user in the process), closes the session, releases the module. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    logout(this.module, this.loginKey, this.session);
    closeQuietly(this.module, this.session);
    releaseModule(this.module);
  }
}

const tokenKey = (slot: Handle) => slot.toString('hex');

function findToken(module: LoadedModule, selector: TokenSelector): { slot: Handle; label: string } {
  let slots: Handle[];
  try {
    slots = module.lib.C_GetSlotList(true);
  } catch (cause) {
    throw pkcs11Error('ERR_PKCS11_TOKEN', 'C_GetSlotList failed', cause);
  }
  const tokens = slots.flatMap((slot) => {
    try {
      const info = module.lib.C_GetTokenInfo(slot);
      if ((info.flags & module.binding.CKF_TOKEN_INITIALIZED) === 0) return [];
      return [{ slot, label: trimLabel(info.label) }];
    } catch {
      return []; // a token removed while we looked
    }
  });
  const matches = tokens.filter((t) => (selector.token === undefined || t.label === selector.token) && (selector.slot === undefined || slotNumber(t.slot) === selector.slot));
  const wanted = [selector.token !== undefined ? `label "${selector.token}"` : '', selector.slot !== undefined ? `slot ${selector.slot}` : ''].filter(Boolean).join(' in ');
  if (matches.length === 0) {
    const present = tokens.map((t) => `"${t.label}" (slot ${slotNumber(t.slot)})`).join(', ') || 'none';
    throw caError('ERR_PKCS11_TOKEN', `pkcs11: no initialized token with ${wanted} in ${module.path}; tokens present: ${present}`);
  }
  if (matches.length > 1) {
    throw caError('ERR_PKCS11_TOKEN', `pkcs11: ${matches.length} tokens have ${wanted}; name the slot as well`);
  }
  return matches[0]!;
}

function openSession(module: LoadedModule, slot: Handle, label: string): Handle {
  try {
    return module.lib.C_OpenSession(slot, module.binding.CKF_SERIAL_SESSION | module.binding.CKF_RW_SESSION);
  } catch (cause) {
    throw pkcs11Error('ERR_PKCS11_TOKEN', `cannot open a read/write session on token ${label}`, cause);
  }
}

function closeQuietly(module: LoadedModule, session: Handle): void {
  try {
    module.lib.C_CloseSession(session);
  } catch {
    // already closed by the token
  }
}
