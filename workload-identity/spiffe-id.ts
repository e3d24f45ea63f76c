import {
  SCHEME_PREFIX,
  checkNoQueryOrFragment,
  checkPath,
  checkScheme,
  checkSegment,
  checkTotalLength,
  checkTrustDomainName,
  fail,
  requireString,
  show,
} from './spiffe-id-syntax.js';

export type { SpiffeIdErrorCode } from './spiffe-id-syntax.js';

// Set in the classes' static blocks so that parsing can build values without re-validating, while
// the constructors stay private to everyone outside this file.
let newTrustDomain!: (name: string) => TrustDomain;
let newSpiffeId!: (td: TrustDomain, path: string) => SpiffeId;

/**
 * A SPIFFE trust domain name such as `cluster.local`: lower case, validated, immutable.
 *
 * @example
 *   const td = TrustDomain.of('cluster.local');
 *   td.idString(); // 'spiffe://cluster.local'
 */
export class TrustDomain {
  readonly name: string;

  static {
    newTrustDomain = (name) => new TrustDomain(name);
  }

  private constructor(name: string) {
    this.name = name;
    Object.freeze(this);
  }

  /**
   * Validates a bare trust domain name (the host part of a SPIFFE ID, SPIFFE-ID §2.1).
   *
   * @example
   *   TrustDomain.of('prod.example.org').name; // 'prod.example.org'
   */
  static of(name: string): TrustDomain {
    requireString(name, 'TrustDomain.of');
    if (name.includes('://')) {
      throw fail(
        'ERR_SPIFFE_ID_TRUST_DOMAIN_CHAR',
        `trust domain ${show(name)} looks like a SPIFFE ID; pass the bare name (e.g. "cluster.local") or use TrustDomain.fromIdString`,
        name,
      );
    }
    checkTrustDomainName(name, name);
    return new TrustDomain(name);
  }

  /**
   * Parses the SPIFFE ID of a trust domain itself, which has no path (SPIFFE-ID §3.1).
   *
   * @example
   *   TrustDomain.fromIdString('spiffe://cluster.local').name; // 'cluster.local'
   */
  static fromIdString(id: string): TrustDomain {
    requireString(id, 'TrustDomain.fromIdString');
    const parsed = SpiffeId.parse(id);
    if (parsed.path !== '') {
      throw fail('ERR_SPIFFE_ID_UNEXPECTED_PATH', `${show(id)} has the path ${show(parsed.path)}; a trust domain ID is "spiffe://<trust-domain>" with no path`, id);
    }
    return parsed.trustDomain;
  }

  /** The trust domain's own SPIFFE ID, `spiffe://<name>`. */
  id(): SpiffeId {
    return newSpiffeId(this, '');
  }

  /** `spiffe://<name>`, the string form of {@link TrustDomain.id}. */
  idString(): string {
    return SCHEME_PREFIX + this.name;
  }

  equals(other: TrustDomain): boolean {
    return other instanceof TrustDomain && other.name === this.name;
  }

  toString(): string {
    return this.name;
  }

  toJSON(): string {
    return this.name;
  }
}

/**
 * A SPIFFE ID (`spiffe://<trust-domain><path>`), validated strictly by the SPIFFE-ID spec and immutable.
 *
 * @example
 *   const id = SpiffeId.parse('spiffe://cluster.local/ns/shop/sa/cart');
 *   id.trustDomain.name; // 'cluster.local'
 *   id.path;             // '/ns/shop/sa/cart'
 */
export class SpiffeId {
  readonly trustDomain: TrustDomain;
  /** `''` for a trust domain ID, otherwise `/seg/seg...` */
  readonly path: string;

  static {
    newSpiffeId = (td, path) => new SpiffeId(td, path);
  }

  private constructor(trustDomain: TrustDomain, path: string) {
    this.trustDomain = trustDomain;
    this.path = path;
    Object.freeze(this);
  }

  /**
   * Parses a SPIFFE ID by hand, character by character: no normalisation, no percent-decoding, so the
   * string that passes is exactly the string that was checked.
   *
   * @example
   *   SpiffeId.parse('spiffe://cluster.local/ns/default/sa/web').path; // '/ns/default/sa/web'
   */
  static parse(s: string): SpiffeId {
    requireString(s, 'SpiffeId.parse');
    if (s === '') {
      throw fail('ERR_SPIFFE_ID_EMPTY', 'ID is empty, want "spiffe://<trust-domain>/<path>"', s);
    }
    checkTotalLength(s, s);
    checkScheme(s);
    const rest = s.slice(SCHEME_PREFIX.length);
    checkNoQueryOrFragment(rest, s);
    const slash = rest.indexOf('/');
    const name = slash === -1 ? rest : rest.slice(0, slash);
    const path = slash === -1 ? '' : rest.slice(slash);
    checkTrustDomainName(name, s);
    checkPath(path, s);
    return new SpiffeId(newTrustDomain(name), path);
  }

  /**
   * Builds an ID from a trust domain and a path that is either `''` or starts with `/`.
   *
   * @example
   *   SpiffeId.fromPath(TrustDomain.of('td'), '/billing/api').toString(); // 'spiffe://td/billing/api'
   */
  static fromPath(td: TrustDomain, path: string): SpiffeId {
    requireTrustDomain(td, 'SpiffeId.fromPath');
    requireString(path, 'SpiffeId.fromPath');
    checkTotalLength(td.idString() + path, path);
    checkPath(path, path);
    return new SpiffeId(td, path);
  }

  /**
   * Builds an ID from path segments; each must be a valid segment on its own (no `/` inside).
   * No segments give the trust domain ID.
   *
   * @example
   *   SpiffeId.fromSegments(TrustDomain.of('td'), 'ns', 'shop', 'sa', 'cart').path; // '/ns/shop/sa/cart'
   */
  static fromSegments(td: TrustDomain, ...segments: string[]): SpiffeId {
    requireTrustDomain(td, 'SpiffeId.fromSegments');
    let path = '';
    for (const segment of segments) {
      requireString(segment, 'SpiffeId.fromSegments');
      checkSegment(segment);
      path += `/${segment}`;
    }
    checkTotalLength(td.idString() + path, path);
    return new SpiffeId(td, path);
  }

  /** True when this ID lives in `td`. */
  isMemberOf(td: TrustDomain): boolean {
    return this.trustDomain.equals(td);
  }

  equals(other: SpiffeId): boolean {
    return other instanceof SpiffeId && other.trustDomain.equals(this.trustDomain) && other.path === this.path;
  }

  toString(): string {
    return SCHEME_PREFIX + this.trustDomain.name + this.path;
  }

  toJSON(): string {
    return this.toString();
  }
}

function requireTrustDomain(value: unknown, fn: string): asserts value is TrustDomain {
  if (!(value instanceof TrustDomain)) throw new TypeError(`spiffeid: ${fn} expects a TrustDomain (use TrustDomain.of)`);
}
