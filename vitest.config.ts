import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    setupFiles: ['test/setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Two cores in CI: forks keep native crypto work of parallel files on separate processes.
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/**/*.test.ts'], exclude: ['test/**/*.real.test.ts'] } },
      // Against a real kube-apiserver + etcd (docs/testing.md): one server per run, started only when a
      // file of this project runs.
      { extends: true, test: { name: 'k8s', include: ['test/**/*.real.test.ts'], globalSetup: ['test/k8s/real/global-setup.ts'] } },
    ],
  },
});
