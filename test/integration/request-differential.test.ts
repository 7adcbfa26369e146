/**
 * Differential test of malformed and oversized requests (issue 14 items 1 and 2): the same client
 * bytes sent through Debian's nginx (started here on loopback, proxying to the same backend with
 * its defaults: `large_client_header_buffers 4 8k`) and through the built Flusso CLI. Each case's
 * outcome (the status, and the request line and chosen field the backend received, or that it
 * received nothing) must be the same, except where listed with the reason: where Flusso refuses
 * what nginx forwards, where both refuse with different statuses, and the residual risks the
 * README's security section names.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nginxPreamble, startNginx, type Nginx } from '../helpers/system.js';
import { startRawUpstream, type RawUpstream } from '../helpers/echo.js';
import { startFlusso, type FlussoProcess } from '../helpers/flusso.js';
import { rawRequest, statusOf } from '../helpers/http.js';
import { endpointSlice, ingress, ingressClass, manifestDir, service } from '../helpers/manifests.js';
import { freePort } from '../helpers/ports.js';

const HOST = 'diff.test';
const get = (target: string, fields = ''): string => `GET ${target} HTTP/1.1\r\nHost: ${HOST}\r\n${fields}Connection: close\r\n\r\n`;

/** Each case: the bytes a client sends (latin1: code points 0x80–0xFF are single bytes). */
const CASES: Record<string, string> = {
  'a plain GET': get('/plain'),
  'an 8 KiB request line': get(`/${'a'.repeat(8000)}`),
  'a 9 KiB request target': get(`/${'a'.repeat(9 * 1024)}`),
  'a 64 KiB request target': get(`/${'a'.repeat(64 * 1024)}`),
  'an 8000-byte field line': get('/f', `X-V: ${'v'.repeat(7995)}\r\n`),
  'a 16 KiB field line': get('/f', `X-V: ${'v'.repeat(16 * 1024)}\r\n`),
  'five 7000-byte fields (35 KiB head)': get('/f', Array.from({ length: 5 }, (_, i) => `X-F${i}: ${'v'.repeat(7000)}\r\n`).join('')),
  'POST without Content-Length or Transfer-Encoding': `POST /p HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`,
  'POST with Content-Length: 0': `POST /p HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
  'a field with an empty name hiding Content-Length': `POST /p HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n: x\r\nContent-Length: 5\r\n\r\nhello`,
  'a GET with an empty-named field': get('/e', ': x\r\nX-V: hidden\r\n'),
  'a value ending in a request line': get('/c', 'X-V: GET /home HTTP/1.1\r\n'),
  'valid UTF-8 inside a value': get('/u', 'X-V: a\xc3\xa9b\r\n'),
  'a Latin-1 byte inside a value': get('/u', 'X-V: a\xe9b\r\n'),
  'a Latin-1 byte at the end of a cookie': get('/u', 'Cookie: name=caf\xe9\r\n'),
  'duplicate Content-Length': `POST /p HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 5\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello`,
  'Transfer-Encoding: gzip': `POST /p HTTP/1.1\r\nHost: ${HOST}\r\nTransfer-Encoding: gzip\r\nConnection: close\r\n\r\n0\r\n\r\n`,
  'CONNECT host:port': `CONNECT ${HOST}:443 HTTP/1.1\r\nHost: ${HOST}:443\r\n\r\n`,
  TRACE: `TRACE / HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`,
  'duplicate Host': `GET / HTTP/1.1\r\nHost: ${HOST}\r\nHost: other.test\r\n\r\n`,
};

/** Where Flusso refuses what nginx 1.22 forwards, and why. */
const STRICTER: Record<string, string> = {
  'POST without Content-Length or Transfer-Encoding': 'an empty-named field can hide the framing of a body-carrying method (request-guard.ts): 411',
  'a value ending in a request line': "the next client's request line captured into a smuggled head (request-guard.ts): 400",
  'a Latin-1 byte inside a value': 'uWS decodes values as UTF-8: forwarding it would alter it, so 400',
};

/** Where both refuse, with a different status (Flusso's is the RFC 6585/9110 one, or uWS's own). */
const OTHER_STATUS: Record<string, string> = {
  'a 64 KiB request target': 'uWS answers 431 for a head over --max-request-head-bytes before Flusso sees the target (nginx 414)',
  'a 16 KiB field line': '431 Request Header Fields Too Large (nginx 400)',
  'five 7000-byte fields (35 KiB head)': '431 from uWS (nginx 400)',
  'Transfer-Encoding: gzip': '400 (nginx 501)',
  'CONNECT host:port': '505 from uWS (nginx 400)',
  'a field with an empty name hiding Content-Length': 'nginx refuses `: x` (400); Flusso cannot see it, but the POST shows no framing: 411',
};

/** Residual risks (README, security): what the backend receives differs from what nginx forwards. */
const RESIDUAL: Record<string, string> = {
  'a GET with an empty-named field': 'uWS hides the fields after `: x`: Flusso forwards the GET without them (nginx 400)',
  'a Latin-1 byte at the end of a cookie': 'uWS trims bytes of 0x80 and above at the ends of a value: the backend gets `name=caf`',
};

let dir: string;
let nginx: Nginx | undefined;
let nginxPort: number;
let flusso: FlussoProcess;
let backend: RawUpstream;
const received: string[] = [];

/** The backend answers every request with a 3-byte 200 and closes, recording the request head. */
function record(socket: net.Socket): void {
  let buf = '';
  socket.on('data', (d: Buffer) => {
    buf += d.toString('latin1');
    if (!buf.includes('\r\n\r\n')) return;
    received.push(buf.slice(0, buf.indexOf('\r\n\r\n')));
    socket.end('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n');
  });
}

function nginxConf(listen: number, up: number): string {
  return `
${nginxPreamble(dir)}  upstream backend { server 127.0.0.1:${up}; }
  server {
    listen 127.0.0.1:${listen};
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_next_upstream off;
    }
  }
}
`;
}

/**
 * outcome sends `bytes` to `port` and says what happened: the status, and what the backend got
 * (its request line and any Cookie or X-V field, names lower-cased), or `-` for nothing.
 */
async function outcome(port: number, bytes: string): Promise<string> {
  const before = received.length;
  const { raw } = await rawRequest(port, Buffer.from(bytes, 'latin1'), { idleMs: 1500 });
  const got = received.slice(before);
  const seen = got.map((head) => {
    const lines = head.split('\r\n');
    const kept = lines.slice(1).filter((l) => /^(cookie|x-v):/i.test(l)).map((l) => l.replace(/^[^:]+/, (n) => n.toLowerCase()));
    return [`${(lines[0] as string).slice(0, 40)}`, ...kept].join(' | ');
  });
  return `${statusOf(raw)} ${seen.length === 0 ? '-' : seen.join(' ;; ')}`;
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'flusso-reqdiff-'));
  backend = await startRawUpstream(record);
  nginxPort = await freePort();
  writeFileSync(path.join(dir, 'nginx.conf'), nginxConf(nginxPort, backend.port));
  nginx = await startNginx(dir, nginxPort);
  const manifests = await manifestDir();
  await manifests.write('00-diff.yaml', [
    ingressClass('flusso'),
    ingress('diff', 'diff', { host: HOST, paths: [{ path: '/', service: 'backend', port: 'http' }] }),
    service('diff', 'backend', [{ name: 'http', port: 80, targetPort: backend.port }]),
    endpointSlice('diff', 'backend', ['127.0.0.1'], backend.port, { portName: 'http' }),
  ]);
  flusso = await startFlusso({ manifestsDir: manifests.dir, workers: 1 });
  await flusso.waitForGeneration(1);
});

afterAll(async () => {
  await nginx?.stop();
  await flusso?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('malformed and oversized requests: Flusso and nginx 1.22 agree, or the difference is listed', () => {
  it.each(Object.keys(CASES))('%s', async (name) => {
    const bytes = CASES[name] as string;
    const theirs = await outcome(nginxPort, bytes);
    const ours = await outcome(flusso.httpPort, bytes);
    const refused = (o: string): boolean => !o.startsWith('200 ') && o.endsWith(' -');
    if (name in STRICTER) {
      expect(refused(ours), `${name}: Flusso ${ours}, nginx ${theirs}`).toBe(true);
      expect(refused(theirs), `${name}: nginx refuses it too (${theirs}); drop it from STRICTER`).toBe(false);
    } else if (name in OTHER_STATUS) {
      expect({ flusso: refused(ours), nginx: refused(theirs) }, `${ours} / ${theirs}`).toEqual({ flusso: true, nginx: true });
      expect(ours.split(' ')[0], `${name}: same status now; drop it from OTHER_STATUS`).not.toBe(theirs.split(' ')[0]);
    } else if (name in RESIDUAL) {
      expect(ours.startsWith('200 ') && ours !== theirs, `${name}: the residual is gone (Flusso ${ours}, nginx ${theirs}); update the README's security section`).toBe(true);
    } else {
      expect(ours, `${name}: nginx ${theirs}`).toBe(theirs);
    }
  });
});
