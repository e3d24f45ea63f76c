// RootAdmin's typed answers (ca/server/admin-messages.ts): a status or health sent as RootStatus/CaHealth
// and read back is the same value, key order included, through the real protobuf encoding.
import { describe, expect, it } from 'vitest';
import { caHealthMessage, caHealthOf, caProtos, rootStatusMessage, rootStatusOf, type CaHealth, type RootStatus } from '../../../ca/index.js';

const service = caProtos().rootAdmin.service;

/** A status through the wire: encoded as RootStepResponse.status, decoded as grpc-js decodes it. */
function overTheWire(s: RootStatus): RootStatus {
  const m = service.GetRootStatus.responseDeserialize(service.GetRootStatus.responseSerialize({ message: '', warnings: [], status: rootStatusMessage(s) }));
  expect(m.status).not.toBeNull();
  return rootStatusOf(m.status!);
}

function healthOverTheWire(h: CaHealth): CaHealth {
  const m = service.GetHealth.responseDeserialize(service.GetHealth.responseSerialize({ health: caHealthMessage(h) }));
  expect(m.health).not.toBeNull();
  return caHealthOf(m.health!);
}

/** Every optional value present somewhere and absent elsewhere, empty strings, fractions, large sequences. */
const activated: RootStatus = {
  trustDomain: 'cluster.local',
  bundleSequence: 9_007_199_254,
  phase: 'activated',
  reissueSpreadSeconds: 40,
  authorities: [
    {
      id: 1,
      state: 'retired',
      inBundle: true,
      root: { subject: 'O=cluster.local, CN=Castellan Root CA 1', keyId: 'aa01', notAfter: '2036-01-01T00:00:00.000Z' },
      issuer: { subject: 'O=cluster.local, CN=Castellan Intermediate 1', keyId: 'bb01', serial: '01ff', notAfter: '2027-01-01T00:00:00.000Z' },
      crossSigned: false,
      createdAt: '2026-01-01T00:00:00.000Z',
      activatedAt: '2026-01-01T00:00:01.000Z',
      retiredAt: '2026-06-01T00:00:00.000Z',
    },
    {
      id: 2,
      state: 'active',
      inBundle: true,
      root: { subject: 'O=cluster.local, CN=Castellan Root CA 2', keyId: 'aa02', notAfter: '2036-06-01T00:00:00.000Z' },
      issuer: { subject: 'O=cluster.local, CN=Castellan Intermediate 2', keyId: 'bb02', serial: '02ff', notAfter: '2027-06-01T00:00:00.000Z' },
      crossSigned: true,
      createdAt: '2026-05-01T00:00:00Z',
      activatedAt: '2026-06-01T00:00:00Z',
    },
    {
      id: 3,
      state: 'prepared',
      inBundle: false,
      root: { subject: 'O=cluster.local, CN=Castellan Root CA 3', keyId: 'aa03', notAfter: '2037-01-01T00:00:00.000Z' },
      issuer: { subject: 'O=cluster.local, CN=Castellan Intermediate 3', keyId: 'bb03', serial: '03ff', notAfter: '2028-01-01T00:00:00.000Z' },
      crossSigned: false,
      createdAt: '2026-07-01T00:00:00.000Z',
    },
  ],
  intermediateRotationDue: '2026-12-01T00:00:00.000Z',
  intermediateRotateAt: 0.625,
  agents: {
    known: false,
    why: '',
    live: 3,
    current: 1,
    lagging: [
      { agentId: 'node-a', identity: 'spiffe://cluster.local/ns/castellan-system/sa/castellan-agent', sequence: 8, lastSeen: '2026-07-01T00:00:00.000Z', connected: true },
      { agentId: 'node-b', sequence: 0, lastSeen: '2026-07-01T00:00:02.000Z', connected: false },
    ],
    withoutActiveRoot: [{ agentId: 'node-c', identity: '', peer: 'ipv4:10.0.0.3:4444', sequence: 1, lastSeen: '2026-07-01T00:00:03.000Z', connected: true }],
    replicas: [
      { replica: 'ca-0', writtenAt: '2026-07-01T00:00:04.000Z', servingSince: '2026-06-30T00:00:00.000Z', intermediateRotateAt: 0.5 },
      { replica: 'ca-1', writtenAt: '2026-07-01T00:00:05.000Z' },
    ],
  },
  pendingRecords: 2,
};

/** The simplest status: one root, no rotation due, no agents known. */
const idle: RootStatus = {
  trustDomain: 'example.org',
  bundleSequence: 1,
  phase: 'idle',
  reissueSpreadSeconds: 0,
  authorities: [activated.authorities[1]!],
  intermediateRotateAt: 1,
  agents: { known: true, live: 0, current: 0, lagging: [], withoutActiveRoot: [], replicas: [] },
  pendingRecords: 0,
};

describe('RootAdmin typed answers (RootStatus, CaHealth)', () => {
  it('ok/a status goes over the wire and comes back the same, key order included (root status --server prints what --dir prints)', () => {
    for (const s of [activated, idle]) {
      const back = overTheWire(s);
      expect(back).toEqual(s);
      expect(JSON.stringify(back, null, 2)).toBe(JSON.stringify(s, null, 2));
    }
  });

  it('ok/absent optional values stay absent, empty ones stay empty', () => {
    const back = overTheWire(activated);
    expect('retiredAt' in back.authorities[1]!).toBe(false);
    expect('serial' in back.authorities[0]!.root).toBe(false);
    expect(back.agents.why).toBe('');
    expect('identity' in back.agents.lagging[1]!).toBe(false);
    expect(back.agents.withoutActiveRoot[0]!.identity).toBe('');
    expect('intermediateRotateAt' in back.agents.replicas[1]!).toBe(false);
    expect('intermediateRotationDue' in overTheWire(idle)).toBe(false);
  });

  it('ok/a health goes over the wire and comes back the same: anchors, a disabled ledger, not ready', () => {
    const healthy: CaHealth = {
      server: { version: '0.1.0', commit: 'abc123', nodeVersion: 'v20.20.0', replica: 'ca-0', leader: true },
      ready: true,
      notes: [],
      serving: { notAfter: '2026-07-02T00:00:00.000Z' },
      ledger: {
        enabled: true,
        location: '/var/lib/castellan/ledger.db',
        broken: false,
        commitFailures: 0,
        checkpointFailures: 1,
        checkpointsSkipped: 2,
        anchors: { state: 'broken', location: '/var/lib/castellan/ledger.db', lastSeq: 120, headSeq: 0, problem: 'truncated' },
      },
      rotation: activated,
    };
    const draining: CaHealth = {
      server: { version: '0.1.0', commit: 'unknown', nodeVersion: 'v20.20.0', replica: 'memory', leader: false },
      ready: false,
      notReady: 'shutting down',
      notes: ['the store cannot be watched'],
      serving: { notAfter: '2026-07-02T00:00:00.000Z' },
      ledger: { enabled: false, broken: false, commitFailures: 0, checkpointFailures: 0, checkpointsSkipped: 0 },
      rotation: idle,
    };
    for (const h of [healthy, draining]) {
      const back = healthOverTheWire(h);
      expect(back).toEqual(h);
      expect(JSON.stringify(back)).toBe(JSON.stringify(h));
    }
  });
});
