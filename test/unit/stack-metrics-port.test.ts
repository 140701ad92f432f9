/** The demo's worker gets a metrics port that is free, or says why not, instead of dying on a taken one. */
import net from 'node:net';
import { metricsPortFor, portFree } from '../../scripts/stack';

/** Listens on a free port on every interface; returns it and how to close it. */
async function hold(port = 0): Promise<{ port: number; close: () => Promise<void> }> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host: '0.0.0.0' }, resolve);
  });
  return { port: (server.address() as net.AddressInfo).port, close: () => new Promise((r) => server.close(() => r())) };
}

describe('metricsPortFor', () => {
  test('unset: the first port when it is free', async () => {
    const probe = await hold();
    await probe.close();
    expect(await metricsPortFor({}, probe.port)).toEqual({ port: probe.port, note: undefined });
  });

  test('unset: the next free port when the first is taken (another clone’s worker), saying so', async () => {
    const taken = await hold();
    try {
      expect(await portFree(taken.port)).toBe(false);
      const r = await metricsPortFor({}, taken.port);
      expect(r.port).toBeGreaterThan(taken.port);
      expect(await portFree(r.port!)).toBe(true);
      expect(r.note).toBe(`${taken.port} is in use`);
    } finally {
      await taken.close();
    }
  });

  test('METRICS_PORT set and free: that port; 0: no metrics', async () => {
    const probe = await hold();
    await probe.close();
    expect(await metricsPortFor({ METRICS_PORT: String(probe.port) })).toEqual({ port: probe.port });
    expect(await metricsPortFor({ METRICS_PORT: '0' })).toEqual({});
  });

  test('METRICS_PORT set but taken, or not a port: a clear error before any worker starts', async () => {
    const taken = await hold();
    try {
      await expect(metricsPortFor({ METRICS_PORT: String(taken.port) })).rejects.toThrow(`METRICS_PORT ${taken.port} is in use (another worker?)`);
    } finally {
      await taken.close();
    }
    await expect(metricsPortFor({ METRICS_PORT: 'abc' })).rejects.toThrow('METRICS_PORT must be a port number (1-65535) or 0 for no metrics, not "abc"');
    await expect(metricsPortFor({ METRICS_PORT: '70000' })).rejects.toThrow('not "70000"');
  });
});
