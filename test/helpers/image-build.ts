// Building and running the container image in tests (docs/image.md): the tools, the runtime flags this
// sandbox needs, and one build of the repository's Dockerfile at a time.
import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

/** Container tools the image tests need; without root they are there but fail, which is a failure to see, not a skip. */
export const missingContainerTools: readonly string[] = ['podman', 'buildah', 'debootstrap', 'runc'].filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);

function hardLimit(flag: string): number {
  const r = spawnSync('sh', ['-c', `ulimit -H${flag}`], { encoding: 'utf8' });
  const n = Number(r.stdout.trim());
  return Number.isFinite(n) && n > 0 ? n : 1_048_576;
}

/**
 * What this sandbox needs (docs/image.md, "What works here"): the process lacks CAP_SYS_RESOURCE, so the
 * runtime may not raise RLIMIT_NOFILE/NPROC above the hard limits, and crun refuses the hybrid cgroup
 * layout, so runc with limits at or below the hard ones.
 */
export const RUNTIME: readonly string[] = [
  '--runtime',
  'runc',
  '--ulimit',
  `nofile=${Math.min(hardLimit('n'), 65_536)}:${Math.min(hardLimit('n'), 65_536)}`,
  '--ulimit',
  `nproc=${Math.min(hardLimit('u'), 10_000) - 1}:${Math.min(hardLimit('u'), 10_000) - 1}`,
];

const run = promisify(execFile);

/** Runs podman; resolves with its exit code and output instead of throwing. */
export async function podman(args: readonly string[], timeout = 120_000): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run('podman', [...args], { encoding: 'utf8', timeout, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(err) };
  }
}

/**
 * Builds the repository's Dockerfile with buildah (after test/image/build-base.sh has made the base
 * images) and tags it `tag`. Builds of parallel test files are serialised with a lock file beside the
 * base image cache; buildah's layer cache makes a build without source changes take seconds.
 * Returns the image ID.
 */
export function buildImage(tag: string, o: { revision?: string } = {}): string {
  const base = spawnSync('bash', [path.resolve('test/image/build-base.sh')], { encoding: 'utf8', timeout: 1_500_000 });
  if (base.status !== 0) throw new Error(`build-base.sh failed (${base.status}): ${base.stderr}`);
  const cache = process.env['CASTELLAN_IMAGE_CACHE'] || path.join(homedir(), '.cache', 'castellan', 'image');
  mkdirSync(cache, { recursive: true });
  const iidFile = path.join(cache, `iid-${process.pid}-${Date.now()}`);
  const bud = spawnSync(
    'flock',
    [
      path.join(cache, 'build.lock'),
      'nice',
      'buildah',
      'bud',
      '--pull=never',
      '--layers',
      ...RUNTIME,
      // This machine reaches the npm registry through a TLS-intercepting proxy whose CA only the host trusts.
      '--secret',
      'id=npm-ca,src=/etc/ssl/certs/ca-certificates.crt',
      '--build-arg',
      `REVISION=${o.revision ?? 'test'}`,
      '--iidfile',
      iidFile,
      '-t',
      tag,
      '.',
    ],
    { encoding: 'utf8', timeout: 1_500_000, maxBuffer: 64 * 1024 * 1024 },
  );
  if (bud.status !== 0) throw new Error(`buildah bud failed (${bud.status}): ${bud.stdout.slice(-3000)}${bud.stderr.slice(-3000)}`);
  const id = readFileSync(iidFile, 'utf8').trim();
  rmSync(iidFile, { force: true });
  if (!/^sha256:[0-9a-f]{64}$/.test(id)) throw new Error(`buildah wrote no image ID to ${iidFile}`);
  return id;
}
