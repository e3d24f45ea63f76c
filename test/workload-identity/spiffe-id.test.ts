import { describe, expect, it } from 'vitest';
import { CastellanError, SpiffeId, TrustDomain, type SpiffeIdErrorCode } from '../../workload-identity/index.js';
import { codeOf } from '../helpers/error-code.js';

// 'spiffe://' (9) + 'td' (2) + '/' (1) + segment = total; the segment fills the rest.
const idOfBytes = (total: number): string => `spiffe://td/${'a'.repeat(total - 12)}`;

describe('SpiffeId.parse', () => {
  const ok: Array<[name: string, input: string, td: string, path: string]> = [
    ['ok/trust-domain-only', 'spiffe://td', 'td', ''],
    ['ok/kubernetes', 'spiffe://cluster.local/ns/default/sa/web', 'cluster.local', '/ns/default/sa/web'],
    ['ok/single-segment', 'spiffe://example.org/workload', 'example.org', '/workload'],
    ['ok/segment-dash-underscore-dot', 'spiffe://td/a-b_c.d', 'td', '/a-b_c.d'],
    ['ok/segment-leading-dot', 'spiffe://td/.hidden', 'td', '/.hidden'],
    ['ok/segment-triple-dot', 'spiffe://td/...', 'td', '/...'],
    ['ok/segment-dot-dot-suffix', 'spiffe://td/a..', 'td', '/a..'],
    ['ok/segment-upper-case', 'spiffe://td/Foo/BAR', 'td', '/Foo/BAR'],
    ['ok/segment-digits', 'spiffe://td/0123456789', 'td', '/0123456789'],
    ['ok/trust-domain-dash-underscore-dot', 'spiffe://my-td_1.example.org/x', 'my-td_1.example.org', '/x'],
    ['ok/trust-domain-digits', 'spiffe://10.0.0.1/x', '10.0.0.1', '/x'],
    ['ok/uuid-path', 'spiffe://example.com/9eebccd2-12bf-40a6-b262-65fe0487d453', 'example.com', '/9eebccd2-12bf-40a6-b262-65fe0487d453'],
    ['ok/2048-bytes', idOfBytes(2048), 'td', `/${'a'.repeat(2048 - 12)}`],
    ['ok/trust-domain-255-bytes', `spiffe://${'a'.repeat(255)}/x`, 'a'.repeat(255), '/x'],
  ];
  for (const [name, input, td, path] of ok) {
    it(name, () => {
      const id = SpiffeId.parse(input);
      expect(id.trustDomain.name).toBe(td);
      expect(id.path).toBe(path);
      expect(id.toString()).toBe(input);
    });
  }

  const fail: Array<[name: string, input: string, code: SpiffeIdErrorCode]> = [
    ['fail/empty', '', 'ERR_SPIFFE_ID_EMPTY'],
    ['fail/no-scheme', 'td/x', 'ERR_SPIFFE_ID_SCHEME'],
    ['fail/upper-case-scheme', 'SPIFFE://td/x', 'ERR_SPIFFE_ID_SCHEME'],
    ['fail/mixed-case-scheme', 'Spiffe://td/x', 'ERR_SPIFFE_ID_SCHEME'],
    ['fail/other-scheme', 'https://td/x', 'ERR_SPIFFE_ID_SCHEME'],
    ['fail/single-slash', 'spiffe:/td/x', 'ERR_SPIFFE_ID_SCHEME'],
    ['fail/no-slashes', 'spiffe:td/x', 'ERR_SPIFFE_ID_SCHEME'],
    ['fail/leading-space', ' spiffe://td/x', 'ERR_SPIFFE_ID_SCHEME'],
    ['fail/scheme-only', 'spiffe://', 'ERR_SPIFFE_ID_TRUST_DOMAIN_EMPTY'],
    ['fail/empty-trust-domain-with-path', 'spiffe:///x', 'ERR_SPIFFE_ID_TRUST_DOMAIN_EMPTY'],
    ['fail/upper-case-trust-domain', 'spiffe://TD/x', 'ERR_SPIFFE_ID_TRUST_DOMAIN_CHAR'],
    ['fail/mixed-case-trust-domain', 'spiffe://Example.org/x', 'ERR_SPIFFE_ID_TRUST_DOMAIN_CHAR'],
    ['fail/trust-domain-space', 'spiffe://t d/x', 'ERR_SPIFFE_ID_TRUST_DOMAIN_CHAR'],
    ['fail/trust-domain-ipv6', 'spiffe://[::1]/x', 'ERR_SPIFFE_ID_TRUST_DOMAIN_CHAR'],
    ['fail/trust-domain-non-ascii', 'spiffe://tö/x', 'ERR_SPIFFE_ID_TRUST_DOMAIN_CHAR'],
    ['fail/trust-domain-256-bytes', `spiffe://${'a'.repeat(256)}/x`, 'ERR_SPIFFE_ID_TRUST_DOMAIN_TOO_LONG'],
    ['fail/port', 'spiffe://td:8080/x', 'ERR_SPIFFE_ID_PORT'],
    ['fail/empty-port', 'spiffe://td:/x', 'ERR_SPIFFE_ID_PORT'],
    ['fail/port-trust-domain-only', 'spiffe://td:443', 'ERR_SPIFFE_ID_PORT'],
    ['fail/userinfo', 'spiffe://user@td/x', 'ERR_SPIFFE_ID_USERINFO'],
    ['fail/userinfo-password-port', 'spiffe://user:pw@td:1/x', 'ERR_SPIFFE_ID_USERINFO'],
    ['fail/query', 'spiffe://td/x?q', 'ERR_SPIFFE_ID_QUERY'],
    ['fail/empty-query', 'spiffe://td/x?', 'ERR_SPIFFE_ID_QUERY'],
    ['fail/query-after-trust-domain', 'spiffe://td?q=1', 'ERR_SPIFFE_ID_QUERY'],
    ['fail/fragment', 'spiffe://td/x#f', 'ERR_SPIFFE_ID_FRAGMENT'],
    ['fail/fragment-after-trust-domain', 'spiffe://td#f', 'ERR_SPIFFE_ID_FRAGMENT'],
    ['fail/percent-encoded-slash', 'spiffe://td/a%2Fb', 'ERR_SPIFFE_ID_PERCENT_ENCODING'],
    ['fail/percent-encoded-trust-domain', 'spiffe://t%64/x', 'ERR_SPIFFE_ID_PERCENT_ENCODING'],
    ['fail/empty-segment', 'spiffe://td//x', 'ERR_SPIFFE_ID_PATH_EMPTY_SEGMENT'],
    ['fail/empty-segment-middle', 'spiffe://td/a//b', 'ERR_SPIFFE_ID_PATH_EMPTY_SEGMENT'],
    ['fail/dot-segment', 'spiffe://td/a/./b', 'ERR_SPIFFE_ID_PATH_DOT_SEGMENT'],
    ['fail/dot-dot-segment', 'spiffe://td/a/../b', 'ERR_SPIFFE_ID_PATH_DOT_SEGMENT'],
    ['fail/trailing-dot-segment', 'spiffe://td/a/.', 'ERR_SPIFFE_ID_PATH_DOT_SEGMENT'],
    ['fail/trailing-dot-dot-segment', 'spiffe://td/..', 'ERR_SPIFFE_ID_PATH_DOT_SEGMENT'],
    ['fail/trailing-slash', 'spiffe://td/a/', 'ERR_SPIFFE_ID_TRAILING_SLASH'],
    ['fail/root-path', 'spiffe://td/', 'ERR_SPIFFE_ID_TRAILING_SLASH'],
    ['fail/path-space', 'spiffe://td/a b', 'ERR_SPIFFE_ID_PATH_CHAR'],
    ['fail/path-colon', 'spiffe://td/a:b', 'ERR_SPIFFE_ID_PATH_CHAR'],
    ['fail/path-at', 'spiffe://td/a@b', 'ERR_SPIFFE_ID_PATH_CHAR'],
    ['fail/path-tilde', 'spiffe://td/~a', 'ERR_SPIFFE_ID_PATH_CHAR'],
    ['fail/path-backslash', 'spiffe://td/a\\b', 'ERR_SPIFFE_ID_PATH_CHAR'],
    ['fail/path-non-ascii', 'spiffe://td/é', 'ERR_SPIFFE_ID_PATH_CHAR'],
    ['fail/path-newline', 'spiffe://td/a\n', 'ERR_SPIFFE_ID_PATH_CHAR'],
    ['fail/2049-bytes', idOfBytes(2049), 'ERR_SPIFFE_ID_TOO_LONG'],
    ['fail/2049-bytes-with-multibyte', `${idOfBytes(2047)}é`, 'ERR_SPIFFE_ID_TOO_LONG'],
  ];
  for (const [name, input, code] of fail) {
    it(name, () => {
      expect(codeOf(() => SpiffeId.parse(input))).toBe(code);
    });
  }

  it('fail/not-a-string throws TypeError', () => {
    expect(() => SpiffeId.parse(42 as unknown as string)).toThrow(TypeError);
  });

  it('errors carry the module prefix and the offending value in context', () => {
    try {
      SpiffeId.parse('spiffe://TD/x');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(CastellanError);
      const e = err as CastellanError;
      expect(e.message).toMatch(/^spiffeid: /);
      expect(e.context['value']).toBe('spiffe://TD/x');
    }
  });
});

describe('TrustDomain', () => {
  const ok: Array<[name: string, input: string]> = [
    ['ok/bare-name', 'cluster.local'],
    ['ok/single-label', 'td'],
    ['ok/dash-underscore', 'a-b_c'],
    ['ok/255-bytes', 'a'.repeat(255)],
  ];
  for (const [name, input] of ok) {
    it(`of ${name}`, () => {
      const td = TrustDomain.of(input);
      expect(td.name).toBe(input);
      expect(td.toString()).toBe(input);
      expect(td.idString()).toBe(`spiffe://${input}`);
      expect(td.id().toString()).toBe(`spiffe://${input}`);
      expect(td.id().path).toBe('');
    });
  }

  const fail: Array<[name: string, input: string, code: SpiffeIdErrorCode]> = [
    ['fail/empty', '', 'ERR_SPIFFE_ID_TRUST_DOMAIN_EMPTY'],
    ['fail/upper-case', 'Cluster.local', 'ERR_SPIFFE_ID_TRUST_DOMAIN_CHAR'],
    ['fail/port', 'td:8080', 'ERR_SPIFFE_ID_PORT'],
    ['fail/userinfo', 'user@td', 'ERR_SPIFFE_ID_USERINFO'],
    ['fail/slash', 'td/x', 'ERR_SPIFFE_ID_TRUST_DOMAIN_CHAR'],
    ['fail/id-string', 'spiffe://td', 'ERR_SPIFFE_ID_TRUST_DOMAIN_CHAR'],
    ['fail/256-bytes', 'a'.repeat(256), 'ERR_SPIFFE_ID_TRUST_DOMAIN_TOO_LONG'],
    ['fail/percent', 't%64', 'ERR_SPIFFE_ID_PERCENT_ENCODING'],
  ];
  for (const [name, input, code] of fail) {
    it(`of ${name}`, () => {
      expect(codeOf(() => TrustDomain.of(input))).toBe(code);
    });
  }

  it('fromIdString ok/trust-domain-id', () => {
    expect(TrustDomain.fromIdString('spiffe://cluster.local').equals(TrustDomain.of('cluster.local'))).toBe(true);
  });
  it('fromIdString fail/has-path', () => {
    expect(codeOf(() => TrustDomain.fromIdString('spiffe://td/x'))).toBe('ERR_SPIFFE_ID_UNEXPECTED_PATH');
  });
  it('fromIdString fail/bad-scheme', () => {
    expect(codeOf(() => TrustDomain.fromIdString('td'))).toBe('ERR_SPIFFE_ID_SCHEME');
  });

  it('equals compares by name and instances are frozen', () => {
    const a = TrustDomain.of('td');
    expect(a.equals(TrustDomain.of('td'))).toBe(true);
    expect(a.equals(TrustDomain.of('other'))).toBe(false);
    expect(Object.isFrozen(a)).toBe(true);
    expect(() => {
      (a as { name: string }).name = 'evil';
    }).toThrow(TypeError);
  });
});

describe('SpiffeId builders', () => {
  const td = TrustDomain.of('td');

  const pathOk: Array<[name: string, path: string]> = [
    ['ok/empty', ''],
    ['ok/one', '/a'],
    ['ok/many', '/ns/default/sa/web'],
    ['ok/special-chars', '/a-b/c_d/e.f'],
  ];
  for (const [name, path] of pathOk) {
    it(`fromPath ${name}`, () => {
      const id = SpiffeId.fromPath(td, path);
      expect(id.toString()).toBe(`spiffe://td${path}`);
      expect(id.equals(SpiffeId.parse(`spiffe://td${path}`))).toBe(true);
    });
  }

  const pathFail: Array<[name: string, path: string, code: SpiffeIdErrorCode]> = [
    ['fail/no-leading-slash', 'a/b', 'ERR_SPIFFE_ID_PATH_NO_LEADING_SLASH'],
    ['fail/trailing-slash', '/a/', 'ERR_SPIFFE_ID_TRAILING_SLASH'],
    ['fail/empty-segment', '/a//b', 'ERR_SPIFFE_ID_PATH_EMPTY_SEGMENT'],
    ['fail/dot-dot', '/a/..', 'ERR_SPIFFE_ID_PATH_DOT_SEGMENT'],
    ['fail/query-char', '/a?b', 'ERR_SPIFFE_ID_PATH_CHAR'],
    ['fail/percent', '/a%20b', 'ERR_SPIFFE_ID_PERCENT_ENCODING'],
    ['fail/too-long', `/${'a'.repeat(2048 - 12 + 1)}`, 'ERR_SPIFFE_ID_TOO_LONG'],
  ];
  for (const [name, path, code] of pathFail) {
    it(`fromPath ${name}`, () => {
      expect(codeOf(() => SpiffeId.fromPath(td, path))).toBe(code);
    });
  }

  it('fromSegments ok/kubernetes', () => {
    expect(SpiffeId.fromSegments(td, 'ns', 'shop', 'sa', 'cart').toString()).toBe('spiffe://td/ns/shop/sa/cart');
  });
  it('fromSegments ok/none gives the trust domain id', () => {
    expect(SpiffeId.fromSegments(td).equals(td.id())).toBe(true);
  });

  const segFail: Array<[name: string, segments: string[], code: SpiffeIdErrorCode]> = [
    ['fail/empty', ['a', ''], 'ERR_SPIFFE_ID_PATH_EMPTY_SEGMENT'],
    ['fail/dot', ['.'], 'ERR_SPIFFE_ID_PATH_DOT_SEGMENT'],
    ['fail/dot-dot', ['a', '..'], 'ERR_SPIFFE_ID_PATH_DOT_SEGMENT'],
    ['fail/slash-inside', ['a/b'], 'ERR_SPIFFE_ID_PATH_CHAR'],
    ['fail/percent', ['a%2F'], 'ERR_SPIFFE_ID_PERCENT_ENCODING'],
    ['fail/too-long', ['a'.repeat(1000), 'b'.repeat(1000), 'c'.repeat(100)], 'ERR_SPIFFE_ID_TOO_LONG'],
  ];
  for (const [name, segments, code] of segFail) {
    it(`fromSegments ${name}`, () => {
      expect(codeOf(() => SpiffeId.fromSegments(td, ...segments))).toBe(code);
    });
  }

  it('fail/builders reject a non-TrustDomain with TypeError', () => {
    expect(() => SpiffeId.fromPath('td' as unknown as TrustDomain, '/a')).toThrow(TypeError);
    expect(() => SpiffeId.fromSegments({ name: 'td' } as unknown as TrustDomain, 'a')).toThrow(TypeError);
  });
});

describe('SpiffeId values', () => {
  it('equals, isMemberOf, toJSON and freezing', () => {
    const a = SpiffeId.parse('spiffe://td/a');
    expect(a.equals(SpiffeId.parse('spiffe://td/a'))).toBe(true);
    expect(a.equals(SpiffeId.parse('spiffe://td/A'))).toBe(false);
    expect(a.equals(SpiffeId.parse('spiffe://other/a'))).toBe(false);
    expect(a.isMemberOf(TrustDomain.of('td'))).toBe(true);
    expect(a.isMemberOf(TrustDomain.of('other'))).toBe(false);
    expect(JSON.stringify({ id: a })).toBe('{"id":"spiffe://td/a"}');
    expect(Object.isFrozen(a)).toBe(true);
    expect(() => {
      (a as { path: string }).path = '/b';
    }).toThrow(TypeError);
    expect(a.path).toBe('/a');
  });
});
