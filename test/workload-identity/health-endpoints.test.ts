import { afterEach, describe, expect, it } from 'vitest';
import { startHealthEndpoints, type HealthEndpoints } from '../../workload-identity/index.js';

const metrics = { contentType: 'text/plain; version=0.0.4', metrics: async () => 'up 1\n' };

describe('health endpoints', () => {
  let h: HealthEndpoints | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('ok/livez and healthz answer 200 while readyz answers 503 with the reason', async () => {
    h = await startHealthEndpoints({ host: '127.0.0.1', port: 0, metrics, ready: () => 'waiting for the Kubernetes API' });
    const base = `http://127.0.0.1:${h.port}`;
    for (const path of ['/livez', '/healthz']) {
      const r = await fetch(base + path);
      expect(r.status, path).toBe(200);
      expect(await r.text()).toBe('ok\n');
    }
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.text()).toBe('not ready: waiting for the Kubernetes API\n');
  });

  it('ok/readyz turns 200 when ready; livez ignores query strings and answers HEAD', async () => {
    let why: string | undefined = 'starting';
    h = await startHealthEndpoints({ host: '127.0.0.1', port: 0, metrics, ready: () => why });
    const base = `http://127.0.0.1:${h.port}`;
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    why = undefined;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect((await fetch(`${base}/livez?verbose`)).status).toBe(200);
    expect((await fetch(`${base}/livez`, { method: 'HEAD' })).status).toBe(200);
  });

  it('fail/unknown paths are 404 naming the endpoints; other methods 405', async () => {
    h = await startHealthEndpoints({ host: '127.0.0.1', port: 0, metrics, ready: () => undefined });
    const base = `http://127.0.0.1:${h.port}`;
    const r = await fetch(`${base}/live`);
    expect(r.status).toBe(404);
    expect(await r.text()).toContain('/livez');
    expect((await fetch(`${base}/livez`, { method: 'POST' })).status).toBe(405);
  });
});
