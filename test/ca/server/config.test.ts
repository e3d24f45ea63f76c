import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isCastellanError } from '../../../workload-identity/index.js';
import { bundleConfigMaps, validateCaServerConfig } from '../../../ca/index.js';
import { tempDir } from '../../helpers/test-ca.js';

describe('CA server configuration', () => {
  it('ok/durations and defaults', () => {
    const c = validateCaServerConfig({ workloadTtl: '1h', maxWorkloadTtl: '2d', listen: '0.0.0.0:15012' });
    expect(c.workloadTtl).toBe(3_600_000);
    expect(c.maxWorkloadTtl).toBe(2 * 86_400_000);
  });

  it('ok/connection and trust-bundle stream limits: durations and counts', () => {
    const c = validateCaServerConfig({
      limits: {
        handshakeTimeout: '5s',
        requestTimeout: '2s',
        connectionIdleTimeout: '1m',
        connectionMaxAge: '30m',
        connectionMaxAgeGrace: '1m',
        maxConnectionsPerPeer: 64,
        maxWatchersPerIdentity: 100,
        maxWatchersPerPeer: 50,
        maxWatchersPerIdentityPeer: 2,
        maxAgentsPerIdentity: 100,
        maxAgentsPerIdentityPeer: 2,
      },
    });
    expect(c.limits).toMatchObject({
      handshakeTimeout: 5_000,
      requestTimeout: 2_000,
      connectionIdleTimeout: 60_000,
      connectionMaxAge: 1_800_000,
      connectionMaxAgeGrace: 60_000,
      maxWatchersPerIdentityPeer: 2,
    });
    expect(() => validateCaServerConfig({ limits: { maxWatchersPerPeer: 0, requestTimeout: '10' } })).toThrow(/limits\.maxWatchersPerPeer[\s\S]*limits\.requestTimeout/);
  });

  it('fail/every problem is listed by path in one error', () => {
    let message = '';
    try {
      validateCaServerConfig({
        workloadTtl: '25x',
        listen: 'nowhere',
        limits: { perIdentity: { ratePerSecond: -1, burst: 0 } },
        policy: { denyNamespaces: ['Bad_NS'] },
        surprise: 1,
      });
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
    const p = spawn(process.execPath, [bin, 'ca', 'serve', '--dir', path.join(t.dir, 'ca'), '--listen', '127.0.0.1:0', '--http', '127.0.0.1:0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
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
  it('fail/maxWorkloadTtl alone below the 24h default workload TTL', () =>
    expect(problems({ maxWorkloadTtl: '1h' })).toMatch(/workloadTtl: 86400s is longer than maxWorkloadTtl 3600s/));
  it('fail/a zero workloadTtl', () => expect(problems({ workloadTtl: '0s' })).toMatch(/workloadTtl: must be longer than 0/));
  it('fail/policy names that Kubernetes cannot have', () => {
    expect(problems({ policy: { denyServiceAccounts: ['Default/Legacy'] } })).toMatch(/policy.denyServiceAccounts.0/);
    expect(problems({ policy: { denyServiceAccounts: ['default/ legacy'] } })).toMatch(/policy.denyServiceAccounts.0/);
  });
  it('fail/admin identities and federation endpoint IDs the CA could never match (checked as SPIFFE IDs, not by pattern)', () => {
    for (const id of ['spiffe://Example.org/admin', 'spiffe://example.org/admin/', 'spiffe://example.org//a', 'spiffe://example.org']) {
      expect(problems({ admin: { identities: [id] } }), id).toMatch(/admin\.identities\.0: want a SPIFFE ID with a path/);
    }
    const federation = (endpointSpiffeId: string) => ({
      federation: { trustDomains: [{ trustDomain: 'spire.test', bundleEndpointUrl: 'https://spire.test/bundle', profile: 'https_spiffe', endpointSpiffeId }] },
    });
    expect(problems(federation('spiffe://spire.test/spire//server'))).toMatch(/endpointSpiffeId: want a SPIFFE ID with a path/);
    expect(problems(federation('spiffe://spire.test/spire/server'))).not.toMatch(/endpointSpiffeId/);
    expect(problems({ admin: { identities: ['spiffe://example.org/ns/castellan-system/sa/castellan-admin'] } })).toBe('');
    expect(problems({ trustDomain: 'Example.org' })).toMatch(/trustDomain: want a trust domain/);
  });
});

describe('CA server configuration: Istio mode fields', () => {
  const problems = (raw: unknown) => {
    try {
      validateCaServerConfig(raw);
      return '';
    } catch (err) {
      expect(isCastellanError(err, 'ERR_CONFIG')).toBe(true);
      return (err as Error).message;
    }
  };

  it('ok/serving DNS names and IP addresses, dev issuer with a config, two bundle ConfigMaps', () => {
    const c = validateCaServerConfig({
      servingDnsNames: ['istiod.istio-system.svc', 'castellan.castellan-system.svc.cluster.local', 'localhost'],
      servingIpAddresses: ['127.0.0.1', '10.96.0.15', '::1', 'fd00::15'],
      authentication: { devIssuer: true },
      distribution: { configMaps: { enabled: true, additional: [{ name: 'istio-ca-root-cert' }] } },
    });
    expect(bundleConfigMaps(c)).toEqual([
      { name: 'castellan-root-cert', key: 'root-cert.pem' },
      { name: 'istio-ca-root-cert', key: 'root-cert.pem' },
    ]);
    expect(bundleConfigMaps(validateCaServerConfig({ distribution: { configMaps: { enabled: true, name: 'istio-ca-root-cert', key: 'ca.crt' } } }))).toEqual([
      { name: 'istio-ca-root-cert', key: 'ca.crt' },
    ]);
    expect(bundleConfigMaps(validateCaServerConfig({ distribution: { configMaps: { enabled: false, name: 'x' } } }))).toEqual([]);
  });

  it('fail/an IP address in servingDnsNames points to servingIpAddresses', () => {
    expect(problems({ servingDnsNames: ['127.0.0.1'] })).toMatch(/servingDnsNames\.0: "127\.0\.0\.1" is an IP address: put it in servingIpAddresses/);
    expect(problems({ servingDnsNames: ['::1'] })).toMatch(/servingDnsNames\.0: "::1" is an IP address/);
    expect(problems({ servingDnsNames: ['[::1]'] })).toMatch(/servingDnsNames\.0: "\[::1\]" is an IP address/);
  });

  it('fail/servingDnsNames that are not DNS names', () => {
    for (const bad of ['', 'under_score.svc', 'ca.svc:15012', 'https://ca.svc', '-lead.svc', 'a..b', `${'a'.repeat(64)}.svc`, '*.istio-system.svc']) {
      expect(problems({ servingDnsNames: [bad] }), bad).toMatch(/servingDnsNames\.0: .* is not a DNS name/);
    }
  });

  it('fail/servingIpAddresses that are not IP addresses', () => {
    for (const bad of ['localhost', '127.0.0.1:15012', '[::1]', '256.0.0.1', 'fe80::1%eth0', '10.0.0.0/8']) {
      expect(problems({ servingIpAddresses: [bad] }), bad).toMatch(/servingIpAddresses\.0: want an IPv4 or IPv6 address/);
    }
  });

  it('fail/devIssuer together with another token authenticator', () => {
    expect(problems({ authentication: { devIssuer: true, tokenReview: {} } })).toMatch(/choose one token authenticator: .*devIssuer/);
    expect(problems({ authentication: { devIssuer: 'yes' } })).toMatch(/authentication\.devIssuer/);
  });

  it('fail/bundle ConfigMap names and keys Kubernetes would refuse, and a name twice', () => {
    expect(problems({ distribution: { configMaps: { enabled: true, name: 'Istio_CA' } } })).toMatch(/distribution\.configMaps\.name/);
    expect(problems({ distribution: { configMaps: { enabled: true, key: 'root/cert.pem' } } })).toMatch(/distribution\.configMaps\.key: want a ConfigMap key/);
    expect(problems({ distribution: { configMaps: { enabled: true, additional: [{ name: 'castellan-root-cert' }] } } })).toMatch(/a ConfigMap name appears twice/);
    expect(problems({ distribution: { configMaps: { enabled: true, additional: [{ name: 'x', surprise: 1 }] } } })).toMatch(/distribution\.configMaps\.additional\.0/);
  });
});

describe('castellan ca serve with authentication.devIssuer in a config file (a real process)', () => {
  let t: ReturnType<typeof tempDir>;
  const bin = path.resolve('bin/castellan.js');
  beforeEach(() => {
    t = tempDir();
    expect(spawnSync(process.execPath, [bin, 'ca', 'init', '--dir', path.join(t.dir, 'ca')]).status).toBe(0);
  });
  afterEach(() => t.cleanup());

  it('ok/trusts the dev issuer, says NOT FOR PRODUCTION on stderr and in the log, exits 0 on SIGTERM', async () => {
    writeFileSync(path.join(t.dir, 'c.yaml'), 'listen: 127.0.0.1:0\nhttp: 127.0.0.1:0\nistioCompat: true\nauthentication:\n  devIssuer: true\n');
    const p = spawn(process.execPath, [bin, 'ca', 'serve', '--dir', path.join(t.dir, 'ca'), '--config', path.join(t.dir, 'c.yaml')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise<void>((resolve, reject) => {
      p.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        if (err.includes('NOT FOR PRODUCTION')) resolve();
      });
      p.on('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
    });
    expect(err).toContain('token authentication: dev-issuer');
    const port = /HTTP on port (\d+)/.exec(err)![1];
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    const warning = out
      .split('\n')
      .filter((l) => l.includes('authentication.devIssuer is true'))
      .map((l) => JSON.parse(l) as { level: number; msg: string });
    expect(warning).toHaveLength(1);
    expect(warning[0]!.level).toBe(40); // pino warn
    expect(warning[0]!.msg).toContain('NOT FOR PRODUCTION');
    const exited = new Promise<number | null>((resolve) => p.on('exit', (code) => resolve(code)));
    p.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('fail/a config file without devIssuer and without another authenticator does not start (fail closed)', () => {
    writeFileSync(path.join(t.dir, 'c.yaml'), 'listen: 127.0.0.1:0\nhttp: 127.0.0.1:0\n');
    const r = spawnSync(process.execPath, [bin, 'ca', 'serve', '--dir', path.join(t.dir, 'ca'), '--config', path.join(t.dir, 'c.yaml')], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('no token authenticator');
    expect(r.stderr).toContain('authentication.devIssuer');
    expect(r.stderr).not.toContain('NOT FOR PRODUCTION');
  });

  it('ok/clientCertificateOnly: a config file that says so runs without the dev issuer (token authentication: none)', async () => {
    writeFileSync(path.join(t.dir, 'c.yaml'), 'listen: 127.0.0.1:0\nhttp: 127.0.0.1:0\nauthentication:\n  clientCertificateOnly: true\n');
    const p = spawn(process.execPath, [bin, 'ca', 'serve', '--dir', path.join(t.dir, 'ca'), '--config', path.join(t.dir, 'c.yaml')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    await new Promise<void>((resolve, reject) => {
      p.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        if (err.includes('token authentication')) resolve();
      });
      p.on('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
    });
    expect(err).toContain('token authentication: none');
    expect(err).not.toContain('NOT FOR PRODUCTION');
    const port = /HTTP on port (\d+)/.exec(err)![1];
    expect((await fetch(`http://127.0.0.1:${port}/livez`)).status).toBe(200);
    const exited = new Promise<number | null>((resolve) => p.on('exit', (code) => resolve(code)));
    p.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
