/**
 * The trusted-proxy differential (docs/client-address.md): the same raw HTTP/1.1 requests sent to
 * the built Flusso CLI started with the trusted-proxy flags and to Debian's nginx configured the
 * way ingress-nginx renders the same ConfigMap keys (realip module, the forwarded-field maps, the
 * location's proxy_set_header lines: one hand-written file per configuration in
 * test/fixtures/client-address/). Loopback gives two peers: 127.0.0.1 is the trusted proxy
 * (--proxy-real-ip-cidr / set_real_ip_from 127.0.0.1/32), 127.0.0.2 an untrusted client. The
 * status (open.test, and office.test with allowlist-source-range 203.0.113.0/24) and what the
 * backend received (X-Real-IP, X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Port,
 * X-Original-Forwarded-For) must agree, except where KNOWN lists the difference, which
 * docs/client-address.md ("Differences from ingress-nginx") explains. The suite prints
 * "trusted proxies differential: N requests: M agree with nginx, K known differences".
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerFirstHead, startRawUpstream, type RawUpstream } from '../helpers/echo.js';
import { startFlusso, type FlussoProcess } from '../helpers/flusso.js';
import { rawRequest, statusOf } from '../helpers/http.js';
import { endpointSlice, ingress, ingressClass, manifestDir, service, type K8sObject } from '../helpers/manifests.js';
import { freePort } from '../helpers/ports.js';
import { proxyV2 } from '../helpers/raw-http.js';
import { nginxPreamble, startNginx, type Nginx } from '../helpers/system.js';

const FIXTURES = path.join(import.meta.dirname, '../fixtures/client-address');
const N = 'nginx.ingress.kubernetes.io/';
const TRUSTED = '127.0.0.1';
const UNTRUSTED = '127.0.0.2';
/** What the backend's answer reports, in this order (lower-case names; every line of each, in order). */
const REPORTED = ['x-real-ip', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-port', 'x-original-forwarded-for'] as const;

/** Req is one request: the peer it comes from, the Host, extra fields, and for PROXY protocol the header's client address. */
interface Req {
  readonly from: string;
  readonly host: 'open.test' | 'office.test';
  readonly fields?: string;
  readonly proxy?: string;
}

/** Setup is one configuration: its nginx rendering, Flusso's flags and its requests. */
interface Setup {
  readonly fixture: string;
  readonly args: readonly string[];
  readonly requests: readonly Req[];
}

const req = (from: string, host: Req['host'], fields?: string, proxy?: string): Req => ({ from, host, ...(fields === undefined ? {} : { fields }), ...(proxy === undefined ? {} : { proxy }) });
const xff = (...lines: string[]): string => lines.map((l) => `X-Forwarded-For: ${l}\r\n`).join('');
const TRUST = ['--proxy-real-ip-cidr', '127.0.0.1/32'];

/** The X-Forwarded-For values the trusted peer sends in the use-forwarded-headers setup: single, lists, several lines, ports, IPv6, entries that are no address. */
const LISTS: readonly string[] = [
  xff('203.0.113.7'),
  xff('198.51.100.1, 203.0.113.7'),
  xff('198.51.100.1,203.0.113.7'),
  xff('198.51.100.1, 203.0.113.7, 127.0.0.1'),
  xff('127.0.0.1, 127.0.0.1'),
  xff('198.51.100.1, 203.0.113.7', '127.0.0.1:8080'),
  xff('198.51.100.1', '203.0.113.7'),
  xff('203.0.113.7:5000'),
  xff('203.0.113.7:0'),
  xff('203.0.113.7:65535'),
  xff('203.0.113.7:65536'),
  xff('203.0.113.7:000080'),
  xff('2001:db8::7'),
  xff('[2001:db8::7]:443'),
  xff('[2001:db8::7]'),
  xff('[203.0.113.7]:80'),
  xff('203.0.113.07'),
  xff('::ffff:203.0.113.7'),
  xff('203.0.113.7, ::ffff:127.0.0.1'),
  xff('198.51.100.1, not-an-address'),
  xff('not-an-address, 203.0.113.7'),
  xff('203.0.113.7, 127.0.0.1, not-an-address'),
  xff('203.0.113.7 , 127.0.0.1'),
  xff('unknown'),
];

const SETUPS: Record<string, Setup> = {
  'use-forwarded-headers': {
    fixture: 'use-forwarded-headers.conf',
    args: ['--use-forwarded-headers', 'true', ...TRUST],
    requests: [
      req(TRUSTED, 'open.test'),
      ...LISTS.map((f) => req(TRUSTED, 'open.test', f)),
      req(TRUSTED, 'open.test', 'X-Forwarded-Proto: https\r\n'),
      req(TRUSTED, 'open.test', 'X-Forwarded-Proto: https\r\nX-Forwarded-Port: 443\r\n'),
      req(UNTRUSTED, 'open.test'),
      req(UNTRUSTED, 'open.test', xff('203.0.113.7')),
      req(UNTRUSTED, 'open.test', xff('198.51.100.1, 203.0.113.7')),
      req(UNTRUSTED, 'open.test', xff('198.51.100.1', '203.0.113.7')),
      req(UNTRUSTED, 'open.test', 'X-Forwarded-Proto: https\r\nX-Forwarded-Port: 443\r\n'),
      req(TRUSTED, 'office.test'),
      req(TRUSTED, 'office.test', xff('203.0.113.7')),
      req(TRUSTED, 'office.test', xff('203.0.113.7, 127.0.0.1')),
      req(TRUSTED, 'office.test', xff('203.0.113.7:5000')),
      req(TRUSTED, 'office.test', xff('::ffff:203.0.113.7')),
      req(TRUSTED, 'office.test', xff('203.0.113.7', '198.51.100.1')),
      req(TRUSTED, 'office.test', xff('198.51.100.1')),
      req(TRUSTED, 'office.test', xff('203.0.113.7, not-an-address')),
      req(UNTRUSTED, 'office.test'),
      req(UNTRUSTED, 'office.test', xff('203.0.113.7')),
    ],
  },
  'compute-full-forwarded-for': {
    fixture: 'compute-full-forwarded-for.conf',
    args: ['--use-forwarded-headers', 'true', '--compute-full-forwarded-for', 'true', ...TRUST],
    requests: [
      req(TRUSTED, 'open.test'),
      req(TRUSTED, 'open.test', xff('203.0.113.7')),
      req(TRUSTED, 'open.test', xff('198.51.100.1, 203.0.113.7, 127.0.0.1')),
      req(TRUSTED, 'open.test', xff('198.51.100.1, 203.0.113.7', '127.0.0.1:8080')),
      req(TRUSTED, 'open.test', xff('198.51.100.1, not-an-address')),
      req(TRUSTED, 'open.test', xff('[2001:db8::7]:443')),
      req(UNTRUSTED, 'open.test'),
      req(UNTRUSTED, 'open.test', xff('203.0.113.7')),
      req(UNTRUSTED, 'open.test', xff('198.51.100.1', '203.0.113.7')),
      req(TRUSTED, 'office.test', xff('203.0.113.7')),
      req(UNTRUSTED, 'office.test', xff('203.0.113.7')),
    ],
  },
  'forwarded-for-header CF-Connecting-IP': {
    fixture: 'forwarded-for-header.conf',
    args: ['--use-forwarded-headers', 'true', '--forwarded-for-header', 'CF-Connecting-IP', ...TRUST],
    requests: [
      req(TRUSTED, 'open.test'),
      req(TRUSTED, 'open.test', 'CF-Connecting-IP: 203.0.113.7\r\n'),
      req(TRUSTED, 'open.test', 'CF-Connecting-IP: 198.51.100.1, 203.0.113.7, 127.0.0.1\r\n'),
      req(TRUSTED, 'open.test', 'CF-Connecting-IP: 203.0.113.7\r\nCF-Connecting-IP: 198.51.100.1\r\n'),
      req(TRUSTED, 'open.test', 'CF-Connecting-IP: not-an-address\r\n'),
      req(TRUSTED, 'open.test', xff('198.51.100.1')),
      req(TRUSTED, 'open.test', `CF-Connecting-IP: 203.0.113.7\r\n${xff('198.51.100.1')}`),
      req(UNTRUSTED, 'open.test', 'CF-Connecting-IP: 203.0.113.7\r\n'),
      req(TRUSTED, 'office.test', 'CF-Connecting-IP: 203.0.113.7\r\n'),
      req(TRUSTED, 'office.test', xff('203.0.113.7')),
      req(UNTRUSTED, 'office.test', 'CF-Connecting-IP: 203.0.113.7\r\n'),
    ],
  },
  'enable-real-ip with compute-full-forwarded-for': {
    fixture: 'enable-real-ip.conf',
    args: ['--enable-real-ip', 'true', '--compute-full-forwarded-for', 'true', ...TRUST],
    requests: [
      req(TRUSTED, 'open.test'),
      req(TRUSTED, 'open.test', xff('198.51.100.1, 203.0.113.7')),
      req(TRUSTED, 'open.test', 'X-Forwarded-Proto: https\r\nX-Forwarded-Port: 443\r\n'),
      req(UNTRUSTED, 'open.test', xff('203.0.113.7')),
      req(TRUSTED, 'office.test', xff('203.0.113.7')),
      req(UNTRUSTED, 'office.test', xff('203.0.113.7')),
    ],
  },
  'use-proxy-protocol': {
    fixture: 'use-proxy-protocol.conf',
    args: ['--use-proxy-protocol', 'true', '--use-forwarded-headers', 'true', '--compute-full-forwarded-for', 'true', ...TRUST],
    requests: [
      req(TRUSTED, 'open.test', undefined, '203.0.113.9'),
      req(TRUSTED, 'open.test', xff('192.0.2.1'), '203.0.113.9'),
      req(TRUSTED, 'open.test', 'X-Forwarded-Proto: https\r\nX-Forwarded-Port: 443\r\n', '203.0.113.9'),
      req(UNTRUSTED, 'open.test', undefined, '203.0.113.9'),
      req(UNTRUSTED, 'open.test', xff('192.0.2.1'), '203.0.113.9'),
      req(TRUSTED, 'office.test', undefined, '203.0.113.9'),
      req(TRUSTED, 'office.test', xff('203.0.113.7'), '198.51.100.1'),
      req(UNTRUSTED, 'office.test', undefined, '203.0.113.9'),
    ],
  },
};

/** Known is a difference on purpose: the reported fields it is in (the rest must agree) and why. */
interface Known {
  readonly fields: readonly (typeof REPORTED)[number][];
  readonly reason: string;
}

/** The known differences, each in the reported fields it names (docs/client-address.md, "Differences from ingress-nginx"). */
const PROTO_FROM_ANY_PEER: Known = { fields: ['x-forwarded-proto', 'x-forwarded-port'], reason: 'ingress-nginx passes X-Forwarded-Proto and X-Forwarded-Port from any peer with use-forwarded-headers; Flusso only from a peer in --proxy-real-ip-cidr' };
const LEADING_ZERO: Known = { fields: ['x-real-ip', 'x-forwarded-for'], reason: "nginx reads 203.0.113.07 as 203.0.113.7; Flusso's address parser refuses a leading zero (octal to some parsers): the walk stops there and the peer is the client" };
const V4_MAPPED: Known = { fields: ['x-real-ip', 'x-forwarded-for'], reason: 'Flusso writes an IPv4-mapped IPv6 address as IPv4 (as it does the peers of a dual-stack listener); nginx keeps ::ffff:203.0.113.7. Both judge it as IPv4 in address lists' };
const PROXY_PORT: Known = { fields: ['x-forwarded-port'], reason: "with PROXY protocol, Flusso's X-Forwarded-Port is its listener's port; ingress-nginx's is the PROXY header's destination port ($proxy_protocol_server_port, 80 here)" };
/**
 * KNOWN lists the requests (keyed as `keyOf` writes them) on which Flusso differs from nginx on
 * purpose, with the fields that differ and the reason; docs/client-address.md ("Differences from
 * ingress-nginx") has the same list.
 */
const KNOWN: Record<string, Known> = {
  'use-forwarded-headers: from 127.0.0.2 to open.test, X-Forwarded-Proto: https / X-Forwarded-Port: 443': PROTO_FROM_ANY_PEER,
  'use-forwarded-headers: from 127.0.0.1 to open.test, X-Forwarded-For: 203.0.113.07': LEADING_ZERO,
  'use-forwarded-headers: from 127.0.0.1 to open.test, X-Forwarded-For: ::ffff:203.0.113.7': V4_MAPPED,
  'use-forwarded-headers: from 127.0.0.1 to office.test, X-Forwarded-For: ::ffff:203.0.113.7': V4_MAPPED,
  'use-proxy-protocol: from 127.0.0.1 (PROXY 203.0.113.9) to open.test': PROXY_PORT,
  'use-proxy-protocol: from 127.0.0.1 (PROXY 203.0.113.9) to open.test, X-Forwarded-For: 192.0.2.1': PROXY_PORT,
  'use-proxy-protocol: from 127.0.0.2 (PROXY 203.0.113.9) to open.test': PROXY_PORT,
  'use-proxy-protocol: from 127.0.0.2 (PROXY 203.0.113.9) to open.test, X-Forwarded-For: 192.0.2.1': PROXY_PORT,
  'use-proxy-protocol: from 127.0.0.1 (PROXY 203.0.113.9) to office.test': PROXY_PORT,
};

/** keyOf names a request: setup, peer, PROXY header, Host and fields. */
function keyOf(setup: string, r: Req): string {
  const fields = (r.fields ?? '').split('\r\n').filter((l) => l !== '');
  return `${setup}: from ${r.from}${r.proxy === undefined ? '' : ` (PROXY ${r.proxy})`} to ${r.host}${fields.length === 0 ? '' : `, ${fields.join(' / ')}`}`;
}

const received: string[] = [];
let backend: RawUpstream;
const nginxes: Record<string, { nginx: Nginx; port: number; dir: string }> = {};
const flussos: Record<string, FlussoProcess> = {};
let agreed = 0;
let known = 0;

/** report answers every request 200 and closes, noting the fields of REPORTED it received. */
function report(socket: net.Socket): void {
  answerFirstHead(socket, (lines) => {
    const fields = lines.slice(1).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()] as const);
    received.push(REPORTED.map((n) => `${n}: ${fields.filter(([k]) => k === n).map(([, v]) => v).join(' | ') || '-'}`).join('\n'));
  });
}

/**
 * outcome sends one request to `port` from `r.from` (after a PROXY v2 header with `r.proxy`, to
 * destination port 80) and describes what happened: the status and what the backend received. The
 * listener's own port in X-Forwarded-Port (each side listens on its own) reads `(listener port)`.
 */
async function outcome(port: number, r: Req): Promise<string> {
  const before = received.length;
  const head = Buffer.from(`GET /page HTTP/1.1\r\nHost: ${r.host}\r\n${r.fields ?? ''}Connection: close\r\n\r\n`, 'latin1');
  const bytes = r.proxy === undefined ? head : Buffer.concat([proxyV2(r.proxy), head]);
  const { raw } = await rawRequest(port, bytes, { from: r.from, idleMs: 2000 });
  const got = received.slice(before).map((g) => g.replace(`x-forwarded-port: ${port}`, 'x-forwarded-port: (listener port)'));
  return [String(statusOf(raw)), got.length === 0 ? 'backend: -' : got.join('\n;;\n')].join('\n');
}

beforeAll(async () => {
  backend = await startRawUpstream(report);
  const objects: K8sObject[] = [ingressClass('flusso'), service('trust', 'backend', [{ name: 'http', port: 80, targetPort: backend.port }]), endpointSlice('trust', 'backend', ['127.0.0.1'], backend.port, { portName: 'http' })];
  const ing = (name: string, annotations: Record<string, string>): K8sObject => {
    const i = ingress('trust', name, { host: `${name}.test`, paths: [{ path: '/', pathType: 'Prefix', service: 'backend', port: 'http' }] });
    return { ...i, metadata: { ...(i.metadata as object), annotations } };
  };
  objects.push(ing('open', {}), ing('office', { [`${N}allowlist-source-range`]: '203.0.113.0/24' }));
  const manifests = await manifestDir();
  await manifests.write('00-trust.yaml', objects);
  const started = Object.entries(SETUPS).map(async ([name, s]) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'flusso-realipdiff-'));
    const port = await freePort();
    const rendered = readFileSync(path.join(FIXTURES, s.fixture), 'utf8').replaceAll('@LISTEN@', `127.0.0.1:${port}`).replaceAll('@BACKEND@', String(backend.port));
    writeFileSync(path.join(dir, 'nginx.conf'), `${nginxPreamble(dir)}${rendered}\n}\n`);
    nginxes[name] = { nginx: await startNginx(dir, port), port, dir };
    const flusso = await startFlusso({ manifestsDir: manifests.dir, workers: 1, args: s.args });
    flussos[name] = flusso;
    await flusso.waitForGeneration(1);
  });
  await Promise.all(started);
});

afterAll(async () => {
  const total = Object.values(SETUPS).reduce((n, s) => n + s.requests.length, 0);
  console.log(`trusted proxies differential: ${total} requests: ${agreed} agree with nginx, ${known} known differences`);
  for (const { nginx, dir } of Object.values(nginxes)) {
    await nginx.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  await Promise.all(Object.values(flussos).map((f) => f.stop()));
  await backend?.close();
});

describe('the KNOWN table', () => {
  it('names only requests the suite sends', () => {
    const sent = new Set(Object.entries(SETUPS).flatMap(([name, s]) => s.requests.map((r) => keyOf(name, r))));
    expect(Object.keys(KNOWN).filter((k) => !sent.has(k))).toEqual([]);
  });
});

describe('trusted proxies: Flusso and nginx configured as ingress-nginx renders the same settings agree, or the difference is known', () => {
  it.each(Object.keys(SETUPS))('%s', async (name) => {
    const s = SETUPS[name] as Setup;
    const { port: nginxPort } = nginxes[name] as { port: number };
    const flussoPort = (flussos[name] as FlussoProcess).httpPort;
    const wrong: string[] = [];
    for (const r of s.requests) {
      const key = keyOf(name, r);
      const theirs = await outcome(nginxPort, r);
      const ours = await outcome(flussoPort, r);
      const shown = `  nginx:  ${theirs.replaceAll('\n', ' / ')}\n  Flusso: ${ours.replaceAll('\n', ' / ')}`;
      const difference = KNOWN[key];
      if (difference !== undefined) {
        const rest = (o: string): string => o.split('\n').filter((l) => !difference.fields.some((f) => l.startsWith(`${f}: `))).join('\n');
        if (ours === theirs) wrong.push(`${key}: now agrees with nginx; drop it from KNOWN and docs/client-address.md\n${shown}`);
        else if (rest(ours) !== rest(theirs)) wrong.push(`${key}: differs beyond ${difference.fields.join(', ')}\n${shown}`);
        else {
          console.log(`known difference, ${key} (${difference.reason}):\n${shown}`);
          known++;
        }
      } else if (ours !== theirs) wrong.push(`${key}\n${shown}`);
      else agreed++;
    }
    expect(wrong.join('\n')).toBe('');
  });
});
