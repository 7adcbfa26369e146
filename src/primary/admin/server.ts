/**
 * The admin server on the admin port (loopback by default, never the proxy's port):
 * `/healthz`, `/readyz` and the read-only JSON API under `/api/v1/`. It binds its port
 * exclusively, so a second process cannot silently share it (uWS defaults to SO_REUSEPORT).
 */
import uWS from 'uWebSockets.js';
import { IngressError, type Diagnostic } from '../../shared/errors.js';
import type { WorkerStatus } from '../workers.js';

/** LIBUS_LISTEN_EXCLUSIVE_PORT: no SO_REUSEPORT for this socket. */
const EXCLUSIVE_PORT = 1;

/** AdminState is what the admin server reads; the composition root provides it. */
export interface AdminState {
  ready(): boolean;
  generation(): number;
  workers(): readonly WorkerStatus[];
  diagnostics(): readonly Diagnostic[];
}

/** AdminServer is a started admin listener. */
export interface AdminServer {
  readonly port: number;
  close(): void;
}

/** assertNativeUws refuses the silent pure-JS fallback of uWebSockets.js (it has no SSLApp). */
export function assertNativeUws(): void {
  if (typeof uWS.SSLApp !== 'function' || typeof uWS.us_listen_socket_close !== 'function')
    throw new IngressError('ING_ERR_UWS_NATIVE_MISSING', 'the native uWebSockets.js binding did not load (musl/Alpine, or a Node.js other than 20.x?); refusing the slow pure-JS fallback');
}

/** startAdminServer listens on address:port and serves the admin endpoints. */
export function startAdminServer(address: string, port: number, state: AdminState): Promise<AdminServer> {
  assertNativeUws();
  const app = uWS.App();
  const json = (res: uWS.HttpResponse, status: string, body: unknown): void => {
    res.cork(() => {
      res.writeStatus(status).writeHeader('Content-Type', 'application/json').writeHeader('Cache-Control', 'no-store').end(JSON.stringify(body));
    });
  };
  const text = (res: uWS.HttpResponse, status: string, body: string): void => {
    res.cork(() => {
      res.writeStatus(status).writeHeader('Content-Type', 'text/plain; charset=utf-8').writeHeader('Cache-Control', 'no-store').end(body);
    });
  };
  app.get('/healthz', (res) => text(res, '200 OK', 'ok\n'));
  app.get('/readyz', (res) => {
    const ready = state.ready();
    json(res, ready ? '200 OK' : '503 Service Unavailable', { ready, generation: state.generation(), workers: state.workers() });
  });
  app.get('/api/v1/diagnostics', (res) => json(res, '200 OK', { generation: state.generation(), diagnostics: state.diagnostics() }));
  app.get('/api/v1/workers', (res) => json(res, '200 OK', { generation: state.generation(), workers: state.workers() }));
  app.any('/*', (res, req) => {
    const method = req.getCaseSensitiveMethod();
    if (method !== 'GET' && method !== 'HEAD') {
      res.cork(() => res.writeStatus('405 Method Not Allowed').writeHeader('Allow', 'GET, HEAD').writeHeader('Content-Type', 'text/plain; charset=utf-8').end('405 Method Not Allowed\n'));
      return;
    }
    text(res, '404 Not Found', '404 Not Found\n');
  });
  return new Promise((resolve, reject) => {
    // The binding takes (host, port, options, cb); the bundled d.ts only declares (port, options, cb).
    const listen = app.listen as unknown as (host: string, port: number, options: number, cb: (token: uWS.us_listen_socket | false) => void) => void;
    listen.call(app, address, port, EXCLUSIVE_PORT, (token) => {
      if (!token) {
        reject(new IngressError('ING_ERR_LISTEN_FAILED', `admin server could not listen on ${address}:${port}`));
        return;
      }
      resolve({
        port: uWS.us_socket_local_port(token),
        close: () => uWS.us_listen_socket_close(token),
      });
    });
  });
}
