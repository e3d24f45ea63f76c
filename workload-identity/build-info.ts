import { readFileSync } from 'node:fs';
import { Gauge, type Registry } from 'prom-client';

/** Which Castellan build runs: what `castellan_build_info` exports (docs/observability.md). */
export interface BuildInfo {
  /** The package version (package.json). */
  readonly version: string;
  /** The git commit the build was made from ("-dirty" when tracked files differed), or "unknown". */
  readonly commit: string;
  /** The Node.js version running it, without the leading "v". */
  readonly nodeVersion: string;
}

// `npm run build` writes dist/build-info.json (scripts/write-build-info.mjs). This module runs either
// compiled (dist/workload-identity/build-info.js) or from source (workload-identity/build-info.ts, in
// tests): the file is one of these two paths away.
const BUILD_INFO_FILES = ['../build-info.json', '../dist/build-info.json'];
const PACKAGE_FILES = ['../package.json', '../../package.json'];

function readJson(relative: readonly string[]): Record<string, unknown> | undefined {
  for (const r of relative) {
    try {
      const v: unknown = JSON.parse(readFileSync(new URL(r, import.meta.url), 'utf8'));
      if (v !== null && typeof v === 'object') return v as Record<string, unknown>;
    } catch {
      // absent or unreadable: try the next place
    }
  }
  return undefined;
}

let cached: BuildInfo | undefined;

/**
 * The running build's version, commit and Node.js version, read once. Never throws: without a build
 * file (sources run directly) the version comes from package.json and the commit is "unknown".
 *
 * @example buildInfo() // { version: '0.1.0', commit: '3f2c…', nodeVersion: '20.20.0' }
 */
export function buildInfo(): BuildInfo {
  if (cached) return cached;
  const file = readJson(BUILD_INFO_FILES);
  const pkg = file ? undefined : readJson(PACKAGE_FILES);
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  cached = {
    version: str(file?.['version']) ?? (pkg?.['name'] === 'castellan' ? str(pkg['version']) : undefined) ?? 'unknown',
    commit: str(file?.['commit']) ?? 'unknown',
    nodeVersion: process.versions.node,
  };
  return cached;
}

/**
 * Registers `castellan_build_info{version,commit,node_version} 1` in `registry` (the CA's and the
 * agent's alike), the usual Prometheus "info" metric: join on it to see which build a series came from.
 *
 * @example registerBuildInfo(registry);
 */
export function registerBuildInfo(registry: Registry): void {
  if (registry.getSingleMetric('castellan_build_info')) return;
  const b = buildInfo();
  new Gauge({
    name: 'castellan_build_info',
    help: 'Always 1; the labels say which build runs: version, git commit ("unknown" when built outside a git checkout), Node.js version.',
    labelNames: ['version', 'commit', 'node_version'] as const,
    registers: [registry],
  }).set({ version: b.version, commit: b.commit, node_version: b.nodeVersion }, 1);
}
