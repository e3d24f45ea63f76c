import { describe, expect, it } from 'vitest';
import { DeltaSubscription } from '../../sds/delta-subscription.js';
import type { EncodedSecret, SnapshotSecrets } from '../../sds/envoy-secrets.js';

/** What a snapshot serves, by name and version (the encoded bytes do not matter to the subscription). */
const served = (versions: Record<string, string>): SnapshotSecrets => ({
  names: Object.keys(versions),
  get: (name) => (versions[name] === undefined ? undefined : ({ name, version: versions[name] } as unknown as EncodedSecret)),
});
const sent = (c: { resources: EncodedSecret[]; removed: string[] }) => ({ resources: c.resources.map((r) => `${r.name}@${r.version}`), removed: c.removed });

describe('DeltaSubscription (incremental xDS state of one stream)', () => {
  it('ok/named subscriptions: each resource once per version; a new version is sent again', () => {
    const s = new DeltaSubscription();
    s.begin({}, false);
    s.apply(['default'], []);
    expect(sent(s.changes(served({ default: 'v1', ROOTCA: 'r1' })))).toEqual({ resources: ['default@v1'], removed: [] });
    expect(sent(s.changes(served({ default: 'v1', ROOTCA: 'r1' })))).toEqual({ resources: [], removed: [] });
    s.apply(['ROOTCA'], []);
    expect(sent(s.changes(served({ default: 'v2', ROOTCA: 'r1' })))).toEqual({ resources: ['default@v2', 'ROOTCA@r1'], removed: [] });
  });

  it('ok/an empty first subscription is a wildcard; unsubscribing * ends it', () => {
    const s = new DeltaSubscription();
    s.begin({}, true);
    expect(sent(s.changes(served({ default: 'v1', ROOTCA: 'r1' })))).toEqual({ resources: ['default@v1', 'ROOTCA@r1'], removed: [] });
    s.apply([], ['*']);
    expect(sent(s.changes(served({ default: 'v1', ROOTCA: 'r1' })))).toEqual({ resources: [], removed: ['default', 'ROOTCA'] });
  });

  it('ok/initial versions the client holds are not resent; held names no longer served are removed', () => {
    const s = new DeltaSubscription();
    s.begin({ default: 'v1', 'spiffe://gone.test': 'g1' }, false);
    s.apply(['default'], []);
    expect(s.initial).toEqual(['default', 'spiffe://gone.test']);
    expect(sent(s.changes(served({ default: 'v1' })))).toEqual({ resources: [], removed: ['spiffe://gone.test'] });
    expect(sent(s.changes(served({})))).toEqual({ resources: [], removed: ['default'] });
  });

  it('ok/unsubscribing a held name removes it in the next response; a name never held is not removed', () => {
    const s = new DeltaSubscription();
    s.begin({}, false);
    s.apply(['default', 'ROOTCA', 'unknown'], []);
    expect(s.size).toBe(3);
    expect(sent(s.changes(served({ default: 'v1', ROOTCA: 'r1' })))).toEqual({ resources: ['default@v1', 'ROOTCA@r1'], removed: [] });
    s.apply([], ['ROOTCA', 'unknown']);
    expect(s.size).toBe(1);
    expect(sent(s.changes(served({ default: 'v1', ROOTCA: 'r1' })))).toEqual({ resources: [], removed: ['ROOTCA'] });
  });
});
