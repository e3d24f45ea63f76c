import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalBytes, chainRecord, recordHash, signedBytes, type LedgerEntry } from '../../../ca/ledger/index.js';
import { rowValues } from '../../../ca/ledger/ledger-store.js';

// The hashes below were computed by the first implementation of ENCODING_V1 (before the record
// builder was optimised): records written by any version must keep verifying, so they must not change.
const prev = { seq: 41, hash: 'ab'.repeat(32) };
const issued: LedgerEntry = {
  type: 'issuance',
  time: '2026-11-22T04:00:00.123Z',
  outcome: 'issued',
  api: 'istio',
  spiffeId: 'spiffe://cluster.local/ns/bench/sa/é',
  namespace: 'bench',
  serial: '0f1e',
  notBefore: '2026-11-22T04:00:00.000Z',
  notAfter: '2026-11-23T04:00:00.000Z',
};

describe('ledger canonical encoding (castellan-ledger/v1)', () => {
  it('ok/chainRecord hashes exactly the canonical JSON array (pinned value)', () => {
    const r = chainRecord(issued, prev);
    const text = JSON.stringify([
      'castellan-ledger/v1',
      42,
      issued.time,
      'issuance',
      'issued',
      null,
      'istio',
      issued.spiffeId,
      'bench',
      null,
      null,
      null,
      null,
      null,
      null,
      null,
      '0f1e',
      issued.notBefore,
      issued.notAfter,
      null,
      null,
      null,
      prev.hash,
      null,
    ]);
    expect(canonicalBytes(r).toString('utf8')).toBe(text);
    expect(r.hash).toBe(createHash('sha256').update(Buffer.from(text, 'utf8')).digest('hex'));
    expect(r.hash).toBe('18360b53c0f04862c124214db1a0bb51a12efd7ecc146193c7779c65ac996d9c');
    expect(recordHash(r)).toBe(r.hash);
  });

  it('ok/a signed checkpoint hashes its signature; its signed bytes leave it null (pinned value)', () => {
    const cp = chainRecord(
      { type: 'checkpoint', time: '2026-11-22T04:00:01.000Z', event: 'checkpoint', details: '{"from":1,"to":42}' },
      { seq: 42, hash: 'cd'.repeat(32) },
      'c2lnbmF0dXJl',
    );
    expect(cp.hash).toBe('6712d5be3556a02fb7182c3ae91688fd1a122f58cb849a4be04669ef592fb64a');
    expect(cp.signature).toBe('c2lnbmF0dXJl');
    expect(
      signedBytes(cp)
        .toString('utf8')
        .endsWith(`"${'cd'.repeat(32)}",null]`),
    ).toBe(true);
  });

  it('ok/an entry stamped with the ledger time equals the same entry carrying that time', () => {
    const { time, ...untimed } = issued;
    const stamped = chainRecord(untimed, prev, undefined, time);
    expect(stamped).toEqual(chainRecord(issued, prev));
    // The entry's own time wins over the stamp (callers may pass an explicit time).
    expect(chainRecord(issued, prev, undefined, '1999-01-01T00:00:00.000Z').time).toBe(issued.time);
  });

  it('ok/absent, undefined and null fields are left out of the record and stored as NULL', () => {
    const r = chainRecord({ ...issued, reason: undefined, peer: null } as unknown as LedgerEntry, prev);
    expect('reason' in r).toBe(false);
    expect('peer' in r).toBe(false);
    expect(r.hash).toBe('18360b53c0f04862c124214db1a0bb51a12efd7ecc146193c7779c65ac996d9c');
    const row = rowValues(r);
    expect(row[0]).toBe(42);
    expect(row.filter((v) => v === null)).toHaveLength(24 - 12);
  });

  it('fail/an entry without any time is refused', () => {
    const { time: _time, ...untimed } = issued;
    expect(() => chainRecord(untimed, prev)).toThrow(TypeError);
  });
});
