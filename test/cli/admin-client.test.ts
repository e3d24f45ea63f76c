// The RootAdmin client reads the typed answers of this release's CA (RootStepResponse.status,
// GetHealthResponse.health) and still understands a CA of the previous release, which sends only the
// JSON forms (status_json, health_json; deprecated, sent for one more release).
import { describe, expect, it } from 'vitest';
import { caHealthMessage, caProtos, rootStatusMessage, type CaHealth, type RootStatus } from '../../ca/index.js';
import { healthOf, stepAnswerOf } from '../../cli/admin-client.js';

const service = caProtos().rootAdmin.service;

const status: RootStatus = {
  trustDomain: 'cluster.local',
  bundleSequence: 3,
  phase: 'prepared',
  reissueSpreadSeconds: 0,
  authorities: [
    {
      id: 1,
      state: 'active',
      inBundle: true,
      root: { subject: 'O=cluster.local, CN=Castellan Root CA 1', keyId: 'aa01', notAfter: '2036-01-01T00:00:00.000Z' },
      issuer: { subject: 'O=cluster.local, CN=Castellan Intermediate 1', keyId: 'bb01', serial: '01ff', notAfter: '2027-01-01T00:00:00.000Z' },
      crossSigned: false,
      createdAt: '2026-01-01T00:00:00.000Z',
      activatedAt: '2026-01-01T00:00:00.000Z',
    },
  ],
  intermediateRotationDue: '2026-07-01T00:00:00.000Z',
  intermediateRotateAt: 0.5,
  agents: { known: false, why: 'no CA has reported its agents', live: 0, current: 0, lagging: [], withoutActiveRoot: [], replicas: [] },
  pendingRecords: 0,
};

const health: CaHealth = {
  server: { version: '0.1.0', commit: 'abc', nodeVersion: 'v20.20.0', replica: 'ca-0', leader: true },
  ready: true,
  notes: [],
  serving: { notAfter: '2026-07-02T00:00:00.000Z' },
  ledger: { enabled: true, location: 'ledger.db', broken: false, commitFailures: 0, checkpointFailures: 0, checkpointsSkipped: 0 },
  rotation: status,
};

/** An answer as grpc-js hands it to the client, from what a CA sent. */
const stepAnswer = (sent: Parameters<typeof service.GetRootStatus.responseSerialize>[0]) =>
  service.GetRootStatus.responseDeserialize(service.GetRootStatus.responseSerialize(sent));
const healthAnswer = (sent: Parameters<typeof service.GetHealth.responseSerialize>[0]) => service.GetHealth.responseDeserialize(service.GetHealth.responseSerialize(sent));

describe('RootAdmin answers of this release and of the previous one', () => {
  it('ok/this release: the typed status and health are read (the JSON forms are not even parsed)', () => {
    const step = stepAnswerOf(stepAnswer({ message: 'prepared root 2', warnings: ['w'], statusJson: 'not JSON', status: rootStatusMessage(status) }));
    expect(step).toEqual({ message: 'prepared root 2', warnings: ['w'], status });
    expect(healthOf(healthAnswer({ healthJson: 'not JSON', health: caHealthMessage(health) }))).toEqual(health);
  });

  it('ok/a CA of the previous release (JSON only): its status_json and health_json are read', () => {
    const step = stepAnswerOf(stepAnswer({ message: '', warnings: [], statusJson: JSON.stringify(status, null, 2) }));
    expect(step).toEqual({ message: '', warnings: [], status });
    expect(healthOf(healthAnswer({ healthJson: JSON.stringify(health) }))).toEqual(health);
  });
});
