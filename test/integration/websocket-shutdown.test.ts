/**
 * WebSocket limits and shutdown through the built CLI (issue #12): the idle timeout closes with
 * 1001, and a drain ends open WebSockets with 1001 before the process exits 0.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFlusso, type FlussoProcess } from '../helpers/flusso.js';
import { endpointSlice, ingressClass, manifestDir, service } from '../helpers/manifests.js';
import { NS, closed, connect, startBackend, wsIngress, type Backend } from '../helpers/websocket.js';

describe('WebSocket limits and shutdown', () => {
  let backend: Backend;

  beforeAll(async () => {
    backend = await startBackend();
  });
  afterAll(() => {
    for (const s of backend?.sockets ?? []) s.terminate();
    backend?.wss.close();
    backend?.server.close();
  });

  async function start(args: string[]): Promise<FlussoProcess> {
    const dir = await manifestDir();
    await dir.write('base.yaml', [
      ingressClass('flusso'),
      service(NS, 'echo', [{ name: 'http', port: 80, targetPort: backend.port }]),
      endpointSlice(NS, 'echo', ['127.0.0.1'], backend.port, { portName: 'http' }),
      wsIngress('chat', 'chat.ws.test'),
    ]);
    const flusso = await startFlusso({ manifestsDir: dir.dir, workers: 1, args });
    await flusso.waitForGeneration(1);
    return flusso;
  }

  it('closes a WebSocket idle for --websocket-idle-timeout with 1001', async () => {
    const flusso = await start(['--websocket-idle-timeout', '1s']);
    try {
      const ws = await connect(`ws://127.0.0.1:${flusso.httpPort}/echo`, 'chat.ws.test');
      expect(await closed(ws)).toEqual({ code: 1001, reason: 'idle timeout' });
    } finally {
      await flusso.stop();
    }
  });

  it('closes a WebSocket idle for its route\'s proxy-read-timeout (issue 15 group 3) with 1001, the global timeout being 60 s', async () => {
    const dir = await manifestDir();
    const ing = wsIngress('ws-read', 'read.ws.test', '/echo');
    const meta = ing.metadata as { annotations: Record<string, string> };
    meta.annotations['nginx.ingress.kubernetes.io/proxy-read-timeout'] = '1';
    await dir.write('base.yaml', [
      ingressClass('flusso'),
      service(NS, 'echo', [{ name: 'http', port: 80, targetPort: backend.port }]),
      endpointSlice(NS, 'echo', ['127.0.0.1'], backend.port, { portName: 'http' }),
      ing,
    ]);
    const flusso = await startFlusso({ manifestsDir: dir.dir, workers: 1, args: ['--websocket-idle-timeout', '60s'] });
    try {
      await flusso.waitForGeneration(1);
      const ws = await connect(`ws://127.0.0.1:${flusso.httpPort}/echo`, 'read.ws.test');
      expect(await closed(ws)).toEqual({ code: 1001, reason: 'idle timeout' });
    } finally {
      await flusso.stop();
    }
  });

  it('closes open WebSockets with 1001 when the drain time is over, then exits 0', async () => {
    const flusso = await start(['--drain-timeout', '1s']);
    const sockets = await Promise.all(Array.from({ length: 5 }, () => connect(`ws://127.0.0.1:${flusso.httpPort}/echo`, 'chat.ws.test')));
    const ends = sockets.map((s) => closed(s));
    const exit = await flusso.stop('SIGTERM', 15_000);
    expect(await Promise.all(ends)).toEqual(sockets.map(() => ({ code: 1001, reason: 'server going away' })));
    expect(exit.code).toBe(0);
  });
});
