/**
 * WebSocket test helpers: a `ws` backend with behaviours chosen by path (echo, refuse, push,
 * deaf, close on request), an Ingress for it, and `ws` clients that connect through Flusso.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import type { K8sObject } from './manifests.js';

export const NS = 'ws';
export const TOKEN = 'websocket-test-token-0123456789';
export const PUSHED = 400;

/** Backend is a `ws` server with a few behaviours chosen by path, and what it saw. */
export interface Backend {
  readonly port: number;
  readonly server: Server;
  readonly wss: WebSocketServer;
  /** The last upgrade request's head, and the last close it got from a client. */
  lastRequest: IncomingMessage | null;
  lastClose: { code: number; reason: string } | null;
  /** The server-side sockets, newest last. */
  readonly sockets: WebSocket[];
}

export async function startBackend(): Promise<Backend> {
  const server = createServer();
  const wss = new WebSocketServer({ noServer: true, handleProtocols: (offered) => (offered.has('chat.v2') ? 'chat.v2' : false) });
  const b: Backend = { port: 0, server, wss, lastRequest: null, lastClose: null, sockets: [] };
  server.on('upgrade', (req, socket, head) => {
    b.lastRequest = req;
    if (req.url?.startsWith('/refuse')) {
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nX-Reason: no entry\r\nContent-Length: 9\r\n\r\nforbidden');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      b.sockets.push(ws);
      ws.on('close', (code, reason) => {
        b.lastClose = { code, reason: reason.toString() };
      });
      if (req.url?.startsWith('/push')) {
        // 400 messages of 64 KiB (25 MiB) as fast as the socket takes them: a client that stops
        // reading must make Flusso stop reading here, so most of them pile up in this process.
        const chunk = Buffer.alloc(64 * 1024, 7);
        for (let i = 0; i < PUSHED; i++) {
          const index = Buffer.alloc(2);
          index.writeUInt16BE(i);
          ws.send(Buffer.concat([index, chunk]));
        }
        return;
      }
      if (req.url?.startsWith('/deaf')) {
        (ws as unknown as { _socket: import('node:net').Socket })._socket.pause();
        return;
      }
      ws.on('message', (data, isBinary) => {
        const text = isBinary ? '' : data.toString();
        if (text.startsWith('close:')) {
          const [, code, reason] = text.split(':');
          ws.close(Number(code), reason);
        } else if (text === 'ping-me') ws.ping('from-backend');
        else ws.send(data, { binary: isBinary });
      });
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return Object.assign(b, { port: (server.address() as AddressInfo).port });
}

export function wsIngress(name: string, host: string, path = '/', tls = false): K8sObject {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, namespace: NS, annotations: { 'nginx.ingress.kubernetes.io/ssl-redirect': 'false' } },
    spec: {
      ingressClassName: 'flusso',
      ...(tls ? { tls: [{ hosts: [host], secretName: 'ws-cert' }] } : {}),
      rules: [{ host, http: { paths: [{ path, pathType: 'Prefix', backend: { service: { name: 'echo', port: { number: 80 } } } }] } }],
    },
  };
}

/** connect opens a client WebSocket through Flusso and resolves once it is open (or rejects with the refusal). */
export function connect(url: string, host: string, opts: WebSocket.ClientOptions & { protocols?: string[] } = {}): Promise<WebSocket> {
  const { protocols, ...rest } = opts;
  const ws = new WebSocket(url, protocols ?? [], { headers: { host }, perMessageDeflate: false, ...rest });
  // Recorded from the start, so closed() also sees a close that came before anyone asked.
  const ending = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  ENDINGS.set(ws, ending);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => reject(Object.assign(new Error(`refused ${res.statusCode}`), { status: res.statusCode, headers: res.headers, body })));
    });
    ws.once('error', reject);
  });
}

export function nextMessage(ws: WebSocket): Promise<{ data: Buffer; isBinary: boolean }> {
  return new Promise((resolve) => ws.once('message', (data: Buffer, isBinary: boolean) => resolve({ data, isBinary })));
}

const ENDINGS = new WeakMap<WebSocket, Promise<{ code: number; reason: string }>>();

/** closed resolves with the socket's close code and reason, whenever the close came. */
export function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return ENDINGS.get(ws) ?? new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
}

