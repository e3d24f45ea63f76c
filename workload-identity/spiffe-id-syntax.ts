// The SPIFFE-ID grammar, checked by hand character by character (never through `new URL`, which
// normalises); internal to the folder, spiffe-id.ts builds the values on top of it.
import { CastellanError } from './errors.js';

/** Every reason a SPIFFE ID or trust domain is refused; one code per rule of the SPIFFE-ID spec. */
export type SpiffeIdErrorCode =
  | 'ERR_SPIFFE_ID_EMPTY'
  | 'ERR_SPIFFE_ID_TOO_LONG'
  | 'ERR_SPIFFE_ID_SCHEME'
  | 'ERR_SPIFFE_ID_QUERY'
  | 'ERR_SPIFFE_ID_FRAGMENT'
  | 'ERR_SPIFFE_ID_USERINFO'
  | 'ERR_SPIFFE_ID_PORT'
  | 'ERR_SPIFFE_ID_PERCENT_ENCODING'
  | 'ERR_SPIFFE_ID_TRUST_DOMAIN_EMPTY'
  | 'ERR_SPIFFE_ID_TRUST_DOMAIN_TOO_LONG'
  | 'ERR_SPIFFE_ID_TRUST_DOMAIN_CHAR'
  | 'ERR_SPIFFE_ID_PATH_NO_LEADING_SLASH'
  | 'ERR_SPIFFE_ID_PATH_CHAR'
  | 'ERR_SPIFFE_ID_PATH_EMPTY_SEGMENT'
  | 'ERR_SPIFFE_ID_PATH_DOT_SEGMENT'
  | 'ERR_SPIFFE_ID_TRAILING_SLASH'
  | 'ERR_SPIFFE_ID_UNEXPECTED_PATH';

export const SCHEME_PREFIX = 'spiffe://';
const MAX_ID_BYTES = 2048;
const MAX_TRUST_DOMAIN_BYTES = 255;
const SHOWN_CHARS = 80;

export function checkScheme(s: string): void {
  if (s.startsWith(SCHEME_PREFIX)) return;
  const sep = s.indexOf('://');
  const scheme = sep === -1 ? undefined : s.slice(0, sep);
  // SPIFFE-ID §2: the scheme is exactly "spiffe"; accepting "SPIFFE" would let two strings name one ID.
  const why =
    scheme === undefined
      ? 'has no "spiffe://" prefix'
      : scheme.toLowerCase() === 'spiffe'
        ? `has the scheme ${show(scheme)}, which must be lower case "spiffe"`
        : `has the scheme ${show(scheme)}, want "spiffe"`;
  throw fail('ERR_SPIFFE_ID_SCHEME', `${show(s)} ${why}`, s);
}

export function checkTotalLength(id: string, input: string): void {
  const bytes = Buffer.byteLength(id, 'utf8');
  // SPIFFE-ID §2.3: 2048 bytes is the interoperable maximum, counting scheme, separator and path.
  if (bytes > MAX_ID_BYTES) {
    throw fail('ERR_SPIFFE_ID_TOO_LONG', `ID is ${bytes} bytes long, at most ${MAX_ID_BYTES} are allowed`, input, { bytes });
  }
}

export function checkNoQueryOrFragment(rest: string, input: string): void {
  // SPIFFE-ID §2: a query or fragment is never part of an ID; report it before it is mistaken for a
  // bad trust domain or path character.
  for (let i = 0; i < rest.length; i++) {
    const c = rest[i];
    if (c === '?') throw fail('ERR_SPIFFE_ID_QUERY', `${show(input)} has a query ("?..."); SPIFFE IDs must not have one`, input);
    if (c === '#') throw fail('ERR_SPIFFE_ID_FRAGMENT', `${show(input)} has a fragment ("#..."); SPIFFE IDs must not have one`, input);
  }
}

export function checkTrustDomainName(name: string, input: string): void {
  if (name === '') {
    throw fail('ERR_SPIFFE_ID_TRUST_DOMAIN_EMPTY', `${show(input)} has an empty trust domain, want e.g. "spiffe://cluster.local/..."`, input);
  }
  // SPIFFE-ID §2.1: the trust domain is the URI host; userinfo and port must not be set, not even an
  // empty ":" delimiter.
  if (name.includes('@')) {
    throw fail('ERR_SPIFFE_ID_USERINFO', `${show(input)} has userinfo ("...@") before the trust domain; remove it`, input);
  }
  const bytes = Buffer.byteLength(name, 'utf8');
  // SPIFFE-ID §2.3: RFC 3986 caps a host at 255 characters.
  if (bytes > MAX_TRUST_DOMAIN_BYTES) {
    throw fail('ERR_SPIFFE_ID_TRUST_DOMAIN_TOO_LONG', `trust domain is ${bytes} bytes long, at most ${MAX_TRUST_DOMAIN_BYTES} are allowed`, input, { bytes });
  }
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (isTrustDomainChar(c)) continue;
    const ch = name[i] ?? '';
    if (ch === ':') {
      throw fail('ERR_SPIFFE_ID_PORT', `${show(input)} has a port or ":" after the trust domain; remove it`, input);
    }
    if (ch === '%') {
      throw fail('ERR_SPIFFE_ID_PERCENT_ENCODING', `${show(input)} contains percent-encoding in the trust domain; SPIFFE IDs are never percent-encoded`, input);
    }
    const hint = ch >= 'A' && ch <= 'Z' ? ' (upper case is not allowed; use lower case)' : '';
    throw fail('ERR_SPIFFE_ID_TRUST_DOMAIN_CHAR', `trust domain ${show(name)} contains ${show(ch)}${hint}; allowed are a-z, 0-9, ".", "-" and "_"`, input, { index: i });
  }
}

export function checkPath(path: string, input: string): void {
  if (path === '') return;
  if (path[0] !== '/') {
    throw fail('ERR_SPIFFE_ID_PATH_NO_LEADING_SLASH', `path ${show(path)} must be empty or start with "/"`, input);
  }
  let start = 0;
  for (let i = 1; i <= path.length; i++) {
    if (i < path.length && path[i] !== '/') {
      const c = path.charCodeAt(i);
      if (!isPathChar(c)) throw badPathChar(path[i] ?? '', input, i);
      continue;
    }
    const segment = path.slice(start + 1, i);
    if (segment === '') {
      // SPIFFE-ID §2.2: a trailing "/" and "//" make two spellings of one workload's ID.
      if (i === path.length) {
        throw fail('ERR_SPIFFE_ID_TRAILING_SLASH', `path ${show(path)} ends with "/"; remove it`, input);
      }
      throw fail('ERR_SPIFFE_ID_PATH_EMPTY_SEGMENT', `path ${show(path)} has an empty segment ("//")`, input, { index: i });
    }
    if (segment === '.' || segment === '..') {
      throw fail('ERR_SPIFFE_ID_PATH_DOT_SEGMENT', `path ${show(path)} has a "${segment}" segment; spell the path out without dot segments`, input);
    }
    start = i;
  }
}

export function checkSegment(segment: string): void {
  if (segment === '') {
    throw fail('ERR_SPIFFE_ID_PATH_EMPTY_SEGMENT', 'path segment is empty', segment);
  }
  if (segment === '.' || segment === '..') {
    throw fail('ERR_SPIFFE_ID_PATH_DOT_SEGMENT', `path segment ${show(segment)} is a dot segment`, segment);
  }
  for (let i = 0; i < segment.length; i++) {
    if (!isPathChar(segment.charCodeAt(i))) throw badPathChar(segment[i] ?? '', segment, i);
  }
}

function badPathChar(ch: string, input: string, index: number): CastellanError<SpiffeIdErrorCode> {
  if (ch === '%') {
    return fail('ERR_SPIFFE_ID_PERCENT_ENCODING', `${show(input)} contains percent-encoding; SPIFFE IDs are never percent-encoded`, input, { index });
  }
  return fail('ERR_SPIFFE_ID_PATH_CHAR', `${show(input)} contains ${show(ch)} in a path segment; allowed are a-z, A-Z, 0-9, ".", "-" and "_"`, input, { index });
}

// SPIFFE-ID §2.1: lower-case letters, digits, ".", "-", "_".
function isTrustDomainChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x2d || c === 0x5f;
}

// SPIFFE-ID §2.2: letters of both cases, digits, ".", "-", "_".
function isPathChar(c: number): boolean {
  return isTrustDomainChar(c) || (c >= 0x41 && c <= 0x5a);
}

export function requireString(value: unknown, fn: string): asserts value is string {
  if (typeof value !== 'string') throw new TypeError(`spiffeid: ${fn} expects a string, got ${typeof value}`);
}

export function show(s: string): string {
  return JSON.stringify(s.length > SHOWN_CHARS ? `${s.slice(0, SHOWN_CHARS)}…` : s);
}

export function fail(code: SpiffeIdErrorCode, what: string, input: string, extra: Record<string, unknown> = {}): CastellanError<SpiffeIdErrorCode> {
  const value = input.length > 256 ? `${input.slice(0, 256)}…` : input;
  return new CastellanError(code, `spiffeid: ${what}`, { context: { value, ...extra } });
}
