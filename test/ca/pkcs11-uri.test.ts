import { describe, expect, it } from 'vitest';
import { formatPkcs11KeyUri, parsePkcs11KeyUri } from '../../ca/index.js';
import { codeOf } from '../helpers/error-code.js';

describe('pkcs11 key URIs (RFC 7512)', () => {
  it('ok/labels with reserved characters and binary ids round-trip; only unreserved characters stay unencoded', () => {
    const id = Buffer.from([0x00, 0x25, 0x3b, 0xff]);
    const uri = formatPkcs11KeyUri({ token: 'CA;prod?x=1 %', object: 'root/1 ünï', id });
    expect(uri).toBe('pkcs11:token=CA%3Bprod%3Fx%3D1%20%25;object=root%2F1%20%C3%BCn%C3%AF;id=%00%25%3B%FF;type=private');
    expect(parsePkcs11KeyUri(uri)).toEqual({ token: 'CA;prod?x=1 %', object: 'root/1 ünï', id, type: 'private' });
  });

  it('ok/attribute names are case-insensitive, unencoded reserved characters and query attributes are accepted', () => {
    expect(parsePkcs11KeyUri('PKCS11:Token=a:b@c;OBJECT=k;id=AB?module-path=/usr/lib/x.so')).toEqual({ token: 'a:b@c', object: 'k', id: Buffer.from('AB') });
  });

  for (const [name, uri] of [
    ['not pkcs11', 'file:///key.pem'],
    ['bad escape', 'pkcs11:token=a%2;id=%01'],
    ['repeated attribute', 'pkcs11:id=%01;id=%02'],
    ['attribute without value', 'pkcs11:token'],
    ['space not encoded', 'pkcs11:token=a b'],
    ['label not UTF-8', 'pkcs11:object=%FF'],
    ['pin-value in the query', 'pkcs11:token=a;id=%01?pin-value=1234'],
  ] as const) {
    it(`fail/${name}: ERR_KEY_MATERIAL`, () => {
      expect(codeOf(() => parsePkcs11KeyUri(uri))).toBe('ERR_KEY_MATERIAL');
    });
  }

  it('fail/a pin-value is never echoed in the error', () => {
    try {
      parsePkcs11KeyUri('pkcs11:token=a;id=%zz?pin-value=secret-1234');
      throw new Error('no error');
    } catch (err) {
      expect((err as Error).message).not.toContain('secret-1234');
    }
  });
});
