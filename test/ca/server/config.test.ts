import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isCastellanError } from '../../../workload-identity/index.js';
import { validateCaServerConfig } from '../../../ca/index.js';
import { tempDir } from '../../helpers/test-ca.js';

describe('CA server configuration', () => {
  it('ok/durations and defaults', () => {
    const c = validateCaServerConfig({ workloadTtl: '1h', maxWorkloadTtl: '2d', listen: '0.0.0.0:15012' });
    expect(c.workloadTtl).toBe(3_600_000);
    expect(c.maxWorkloadTtl).toBe(2 * 86_400_000);
  });

  it('ok/connection and trust-bundle stream limits (issue 13): durations and counts', () => {
    const c = validateCaServerConfig({ limits: { handshakeTimeout: '5s', requestTimeout: '2s', connectionIdleTimeout: '1m', connectionMaxAge: '30m', connectionMaxAgeGrace: '1m', maxConnectionsPerPeer: 64, maxWatchersPerIdentity: 100, maxWatchersPerPeer: 50, maxWatchersPerIdentityPeer: 2, maxAgentsPerIdentity: 100, maxAgentsPerIdentityPeer: 2 } });
    expect(c.limits).toMatchObject({ handshakeTimeout: 5_000, requestTimeout: 2_000, connectionIdleTimeout: 60_000, connectionMaxAge: 1_800_000, connectionMaxAgeGrace: 60_000, maxWatchersPerIdentityPeer: 2 });
    expect(() => validateCaServerConfig({ limits: { maxWatchersPerPeer: 0, requestTimeout: '10' } })).toThrow(/limits\.maxWatchersPerPeer[\s\S]*limits\.requestTimeout/);
  });

  it('fail/every problem is listed by path in one error', () => {
    let message = '';
    try {
      validateCaServerConfig({ workloadTtl: '25x', listen: 'nowhere', limits: { perIdentity: { ratePerSecond: -1, burst: 0 } }, policy: { denyNamespaces: ['Bad_NS'] }, surprise: 1 });
    } catch (err) {
      expect(isCastellanError(err, 'ERR_CONFIG')).toBe(true);
      message = (err as Error).message;
    }
    expect(message).toContain('workloadTtl: "25x" is not a duration');
    expect(message).toContain('listen: want host:port');
    expect(message).toContain('limits.perIdentity.ratePerSecond');
    expect(message).toContain('limits.perIdentity.burst');
    expect(message).toContain('policy.denyNamespaces.0');
    expect(message).toMatch(/surprise/);
    expect(message).toMatch(/^config: 6 problems:/);
  });

  it('fail/two token authenticators at once', () => {
    expect(() => validateCaServerConfig({ authentication: { jwks: { issuer: 'https://a' }, tokenReview: {} } })).toThrow(/choose one token authenticator/);
  });

  it('fail/workloadTtl longer than maxWorkloadTtl', () => {
    expect(() => validateCaServerConfig({ workloadTtl: '3d', maxWorkloadTtl: '1d' })).toThrow(/longer than maxWorkloadTtl/);
  });
});

describe('castellan ca serve (a real process)', () => {
  let t: ReturnType<typeof tempDir>;
  const bin = path.resolve('bin/castellan.js');
  beforeEach(() => {
    t = tempDir();
    expect(spawnSync(process.execPath, [bin, 'ca', 'init', '--dir', path.join(t.dir, 'ca')]).status).toBe(0);
  });
  afterEach(() => t.cleanup());

  it('fail/a bad config file exits 1 listing the problems', () => {
    writeFileSync(path.join(t.dir, 'c.yaml'), 'workloadTtl: 25x\nlisten: nowhere\n');
    const r = spawnSync(process.execPath, [bin, 'ca', 'serve', '--dir', path.join(t.dir, 'ca'), '--config', path.join(t.dir, 'c.yaml')], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('workloadTtl: "25x" is not a duration');
    expect(r.stderr).toContain('listen: want host:port');
  });

  it('fail/a bad --listen is a usage error (exit 2)', () => {
    const r = spawnSync(process.execPath, [bin, 'ca', 'serve', '--dir', path.join(t.dir, 'ca'), '--listen', 'nowhere'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^castellan: flags: .*listen/);
  });

  it('ok/serves, answers /readyz, and exits 0 on SIGTERM', async () => {
    const p = spawn(process.execPath, [bin, 'ca', 'serve', '--dir', path.join(t.dir, 'ca'), '--listen', '127.0.0.1:0', '--http', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    const httpPort = await new Promise<number>((resolve, reject) => {
      p.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        const m = /HTTP on port (\d+)/.exec(err);
        if (m) resolve(Number(m[1]));
      });
      p.on('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
    });
    expect(err).toContain('token authentication: dev-issuer');
    expect(await (await fetch(`http://127.0.0.1:${httpPort}/readyz`)).text()).toBe('ready\n');
    const exited = new Promise<number | null>((resolve) => p.on('exit', (code) => resolve(code)));
    p.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});

describe('CA server configuration: cross-field checks against the defaults', () => {
  const problems = (raw: unknown) => {
    try {
      validateCaServerConfig(raw);
      return '';
    } catch (err) {
      return (err as Error).message;
    }
  };
  it('fail/maxWorkloadTtl alone below the 24h default workload TTL', () => expect(problems({ maxWorkloadTtl: '1h' })).toMatch(/workloadTtl: 86400s is longer than maxWorkloadTtl 3600s/));
  it('fail/a zero workloadTtl', () => expect(problems({ workloadTtl: '0s' })).toMatch(/workloadTtl: must be longer than 0/));
  it('fail/policy names that Kubernetes cannot have', () => {
    expect(problems({ policy: { denyServiceAccounts: ['Default/Legacy'] } })).toMatch(/policy.denyServiceAccounts.0/);
    expect(problems({ policy: { denyServiceAccounts: ['default/ legacy'] } })).toMatch(/policy.denyServiceAccounts.0/);
  });
});
