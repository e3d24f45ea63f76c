import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { isCastellanError } from '../../workload-identity/index.js';
import { caError } from '../errors.js';
import type { KeyMaterial, KeyProvider } from '../key-provider.js';
import { KEY_TYPES, type KeyType } from '../key-type.js';
import type { Signer } from '../signer.js';
import { loadBinding, pkcs11Error, type Handle } from './binding.js';
import { generationTemplates, isTrue, publicKeyFrom, ulong } from './key-spec.js';
import { checkKeyPair, pkcs11Signer } from './pkcs11-signer.js';
import { TokenSession, type KeyRef } from './token-session.js';
import { formatPkcs11KeyUri, parsePkcs11KeyUri } from './uri.js';

/** Where the CA keys live in an HSM (docs/pkcs11.md). Give `token` or `slot`, and exactly one PIN source. */
export interface Pkcs11ProviderOptions {
  /** Path of the vendor's PKCS#11 module, e.g. `/usr/lib/softhsm/libsofthsm2.so`. */
  readonly module: string;
  /** Label of the token holding the CA keys (CK_TOKEN_INFO.label, without its space padding). */
  readonly token?: string;
  /** Slot id of the token, when several tokens share a label. */
  readonly slot?: number;
  /** A file holding the user PIN (a trailing newline is ignored); refused when group or others can read it. */
  readonly pinFile?: string;
  /** Name of an environment variable holding the user PIN. */
  readonly pinEnv?: string;
  /** The user PIN itself, for programmatic use; configuration should use `pinFile` or `pinEnv`. */
  readonly pin?: string;
}

/**
 * Opens a key provider over a PKCS#11 token: loads the module (once per process), finds the token,
 * opens one session and logs in. Close it with `close()` (logs out, and finalizes the module when no
 * other provider in the process uses it).
 *
 * @example
 *   const provider = await openPkcs11KeyProvider({ module: '/usr/lib/softhsm/libsofthsm2.so', token: 'castellan', pinFile: '/etc/castellan/hsm-pin' });
 *   const { signer, material } = await provider.generate('ec-p256', 'castellan-root-1');
 */
export async function openPkcs11KeyProvider(options: Pkcs11ProviderOptions): Promise<Pkcs11KeyProvider> {
  if (typeof options.module !== 'string' || options.module === '') throw caError('ERR_PKCS11_MODULE', 'pkcs11: no module given; name the vendor PKCS#11 library (.so)');
  if (options.token === undefined && options.slot === undefined) throw caError('ERR_PKCS11_TOKEN', 'pkcs11: name the token (its label) or its slot');
  if (options.token !== undefined && options.token === '') throw caError('ERR_PKCS11_TOKEN', 'pkcs11: the token label is empty');
  if (options.slot !== undefined && !(Number.isSafeInteger(options.slot) && options.slot >= 0)) {
    throw caError('ERR_PKCS11_TOKEN', `pkcs11: slot ${String(options.slot)} is not a slot id (a non-negative integer)`);
  }
  const pin = await readPin(options);
  const binding = await loadBinding();
  const selector = { ...(options.token !== undefined ? { token: options.token } : {}), ...(options.slot !== undefined ? { slot: options.slot } : {}) };
  return new Pkcs11KeyProvider(TokenSession.open(binding, options.module, selector, pin));
}

async function readPin(o: Pkcs11ProviderOptions): Promise<string> {
  const sources = [o.pin !== undefined, o.pinFile !== undefined, o.pinEnv !== undefined].filter(Boolean).length;
  if (sources !== 1) {
    throw caError('ERR_PKCS11_PIN', `pkcs11: give exactly one PIN source (a PIN file or an environment variable), not ${sources}`);
  }
  if (o.pin !== undefined) return o.pin;
  if (o.pinEnv !== undefined) {
    const pin = process.env[o.pinEnv];
    if (pin === undefined || pin === '') throw caError('ERR_PKCS11_PIN', `pkcs11: environment variable ${o.pinEnv} holds no PIN`);
    return pin;
  }
  const file = o.pinFile!;
  let stat;
  let text;
  try {
    stat = await fs.stat(file);
    text = await fs.readFile(file, 'utf8');
  } catch (cause) {
    throw caError('ERR_PKCS11_PIN', `pkcs11: cannot read PIN file ${file}: ${(cause as NodeJS.ErrnoException).code ?? 'error'}`, { cause });
  }
  // As for key files: a PIN others can read is no longer a secret.
  if ((stat.mode & 0o077) !== 0) {
    throw caError('ERR_PKCS11_PIN', `pkcs11: PIN file ${file} is readable by others (mode ${(stat.mode & 0o777).toString(8)}); run chmod 600 ${file}`);
  }
  const pin = text.replace(/\r?\n$/, '');
  if (pin === '') throw caError('ERR_PKCS11_PIN', `pkcs11: PIN file ${file} is empty`);
  return pin;
}

/**
 * CA keys made in and used from a PKCS#11 token (docs/pkcs11.md). Keys are generated in the token as
 * sensitive, non-extractable, private token objects, checked after creation; the stored material is an
 * RFC 7512 URI naming the private key by token, label and CKA_ID.
 */
export class Pkcs11KeyProvider implements KeyProvider {
  readonly description: string;
  private readonly pending = new Set<Promise<unknown>>();

  constructor(private readonly session: TokenSession) {
    this.description = `pkcs11 (token ${session.tokenLabel})`;
  }

  /** Label of the token the provider uses. */
  get token(): string {
    return this.session.tokenLabel;
  }

  async generate(keyType: KeyType, label: string): Promise<{ signer: Signer; material: KeyMaterial }> {
    if (!KEY_TYPES.includes(keyType)) throw caError('ERR_KEY_TYPE', `pkcs11: unknown key type "${String(keyType)}", want one of ${KEY_TYPES.join(', ')}`);
    if (typeof label !== 'string' || label === '') throw new TypeError('Pkcs11KeyProvider.generate: a key label is required');
    const work = this.generateChecked(keyType, label);
    this.pending.add(work);
    try {
      return await work;
    } finally {
      this.pending.delete(work);
    }
  }

  private async generateChecked(keyType: KeyType, label: string): Promise<{ signer: Signer; material: KeyMaterial }> {
    const b = this.session.binding;
    const id = randomBytes(16);
    const t = generationTemplates(b, keyType, id, label);
    let pair: { publicKey: Handle; privateKey: Handle };
    try {
      pair = await this.session.generateKeyPair(t.mechanism, t.publicTemplate, t.privateTemplate);
    } catch (cause) {
      if (isCastellanError(cause)) throw cause;
      throw pkcs11Error('ERR_PKCS11', `generating a ${keyType} key "${label}" in token ${this.token} failed`, cause);
    }
    const material: KeyMaterial = Object.freeze({ kind: 'pkcs11', uri: formatPkcs11KeyUri({ token: this.token, object: label, id }) });
    try {
      // A token may ignore parts of a template: what it made is read back, not assumed.
      this.checkPolicy(pair.privateKey, `"${label}"`, true);
      const signer = await this.open(material);
      if (signer.keyType !== keyType) throw caError('ERR_PKCS11', `pkcs11: token ${this.token} made a ${signer.keyType} key when asked for ${keyType}`);
      return { signer, material };
    } catch (err) {
      this.session.destroy([pair.privateKey, pair.publicKey]);
      throw err;
    }
  }

  async open(material: KeyMaterial): Promise<Signer> {
    if (material.kind !== 'pkcs11') {
      throw caError('ERR_KEY_MATERIAL', `pkcs11: the CA key is ${material.kind} material, not a key in a PKCS#11 token; open it with the software key provider`);
    }
    const uri = parsePkcs11KeyUri(material.uri);
    if (uri.type !== undefined && uri.type !== 'private') {
      throw caError('ERR_KEY_MATERIAL', `pkcs11: the key URI names a ${uri.type} object; a CA key URI names the private key (type=private)`);
    }
    if (uri.id === undefined && uri.object === undefined) throw caError('ERR_KEY_MATERIAL', 'pkcs11: the key URI names no key (it has neither id nor object)');
    if (uri.token !== undefined && uri.token !== this.token) {
      throw caError('ERR_PKCS11_TOKEN', `pkcs11: the CA key is in token ${uri.token}, but this provider uses token ${this.token}`);
    }
    const b = this.session.binding;
    const name = [uri.object !== undefined ? JSON.stringify(uri.object) : '', uri.id !== undefined ? `(id ${uri.id.toString('hex')})` : ''].filter(Boolean).join(' ');
    const found = this.session.find([
      { type: b.CKA_CLASS, value: b.CKO_PRIVATE_KEY },
      ...(uri.id !== undefined ? [{ type: b.CKA_ID, value: uri.id }] : []),
      ...(uri.object !== undefined ? [{ type: b.CKA_LABEL, value: uri.object }] : []),
    ]);
    if (found.length === 0) throw caError('ERR_PKCS11_KEY_NOT_FOUND', `pkcs11: no private key ${name} in token ${this.token}`);
    if (found.length > 1) throw caError('ERR_PKCS11_KEY_NOT_FOUND', `pkcs11: ${found.length} private keys match ${name} in token ${this.token}; the URI must name one`);
    const handle = found[0]!;
    this.checkPolicy(handle, name, false);

    const id = uri.id ?? this.session.attribute(handle, b.CKA_ID) ?? Buffer.alloc(0);
    const keyTypeId = ulong(this.session.attribute(handle, b.CKA_KEY_TYPE));
    // PKCS#11 v2.40 §4.8: the public key object carries the point (EC) or modulus (RSA); the private key
    // object of an RSA key does too, which serves when the public object was deleted.
    const publicObjects = this.session.find(
      [
        { type: b.CKA_CLASS, value: b.CKO_PUBLIC_KEY },
        { type: b.CKA_ID, value: id },
      ],
      2,
    );
    const source = publicObjects.length === 1 ? publicObjects[0]! : handle;
    const fromPrivate = this.session.attribute(handle, b.CKA_EC_PARAMS);
    const { keyType, publicKey } = publicKeyFrom(b, keyTypeId, (type) => this.session.attribute(source, type) ?? (type === b.CKA_EC_PARAMS ? fromPrivate : undefined), name);

    const ref: KeyRef = { id, label: uri.object, handle, generation: this.session.generation };
    const signer = pkcs11Signer(this.session, ref, keyType, publicKey);
    checkKeyPair(signer, name);
    return signer;
  }

  /**
   * Refuses a private key that could leave the token or be used without login (PKCS#11 v2.40 §4.9). A key
   * generated just now must also have been sensitive and non-extractable from birth.
   */
  private checkPolicy(handle: Handle, name: string, fresh: boolean): void {
    const b = this.session.binding;
    const want: [number, string, boolean][] = [
      [b.CKA_TOKEN, 'CKA_TOKEN', true],
      [b.CKA_PRIVATE, 'CKA_PRIVATE', true],
      [b.CKA_SENSITIVE, 'CKA_SENSITIVE', true],
      [b.CKA_EXTRACTABLE, 'CKA_EXTRACTABLE', false],
      [b.CKA_SIGN, 'CKA_SIGN', true],
      ...(fresh
        ? ([
            [b.CKA_ALWAYS_SENSITIVE, 'CKA_ALWAYS_SENSITIVE', true],
            [b.CKA_NEVER_EXTRACTABLE, 'CKA_NEVER_EXTRACTABLE', true],
          ] as [number, string, boolean][])
        : []),
    ];
    const problems = want.flatMap(([type, attr, expected]) => {
      const value = this.session.attribute(handle, type);
      if (value === undefined) return [`${attr} is not reported`];
      return isTrue(value) === expected ? [] : [`${attr} is ${String(!expected)}`];
    });
    if (problems.length > 0) {
      throw caError(
        'ERR_PKCS11_KEY_POLICY',
        `pkcs11: refusing key ${name} in token ${this.token}: ${problems.join(', ')}; a CA key must be a private, sensitive, non-extractable signing key in the token`,
      );
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.pending]);
    this.session.close();
  }
}
