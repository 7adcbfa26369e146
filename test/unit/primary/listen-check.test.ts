/**
 * The start-up listener checks against a fake /proc: LISTEN sockets are read from
 * /proc/net/tcp{,6}, matched by port and overlapping address, attributed to their processes,
 * and sockets our own processes hold are never called foreign. The real binds are exercised
 * through the CLI in test/integration/startup.test.ts.
 */
import { createServer, type Server } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { checkListeners, foreignListeners, listenProblem, listeningSockets, renderHolders, sharedPortProblem, type Listener, type ProcFs } from '../../../src/primary/listen-check.js';
import { describeListenError, probeListen } from '../../../src/shared/listen-probe.js';

const HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode';
/** A /proc/net/tcp line: address as the kernel prints it (little-endian words), state, inode. */
const tcp = (sl: number, local: string, state: string, inode: number): string =>
  `  ${sl}: ${local} 00000000:0000 ${state} 00000000:00000000 00:00000000 00000000     0        0 ${inode} 1 0000000000000000 100 0 0 10 0`;

/** fakeProc builds a ProcFs from files, directories and fd links. */
function fakeProc(o: { tcp?: string[]; tcp6?: string[]; procs?: Record<number, { cmdline: string[]; comm: string; ppid?: number; sockets: number[] }> }): ProcFs {
  const files = new Map<string, string>();
  const dirs = new Map<string, string[]>();
  const links = new Map<string, string>();
  if (o.tcp) files.set('/proc/net/tcp', [HEADER, ...o.tcp].join('\n'));
  if (o.tcp6) files.set('/proc/net/tcp6', [HEADER, ...o.tcp6].join('\n'));
  dirs.set('/proc', [...Object.keys(o.procs ?? {}), 'self', 'net']);
  for (const [pid, p] of Object.entries(o.procs ?? {})) {
    files.set(`/proc/${pid}/cmdline`, `${p.cmdline.join('\0')}\0`);
    files.set(`/proc/${pid}/comm`, `${p.comm}\n`);
    files.set(`/proc/${pid}/stat`, `${pid} (${p.comm}) S ${p.ppid ?? 1} ${pid} ${pid} 0 -1`);
    dirs.set(`/proc/${pid}/fd`, ['0', '1', ...p.sockets.map((_, i) => String(i + 10))]);
    links.set(`/proc/${pid}/fd/0`, '/dev/null');
    links.set(`/proc/${pid}/fd/1`, 'pipe:[77]');
    p.sockets.forEach((inode, i) => links.set(`/proc/${pid}/fd/${i + 10}`, `socket:[${inode}]`));
  }
  return { read: (p) => files.get(p), list: (p) => dirs.get(p) ?? [], link: (p) => links.get(p) };
}

const HTTP: Listener = { name: 'HTTP', address: '0.0.0.0', port: 8080, flags: '--http-port / --http-address' };
const HTTP_LOOPBACK: Listener = { ...HTTP, address: '127.0.0.1' };

// 0.0.0.0:8080 (1F90), 127.0.0.1:8080, 10.1.2.3:8080, 0.0.0.0:8081; an established socket on 8080.
const TCP = [
  tcp(0, '00000000:1F90', '0A', 101),
  tcp(1, '0100007F:1F90', '0A', 102),
  tcp(2, '0302010A:1F90', '0A', 103),
  tcp(3, '00000000:1F91', '0A', 104),
  tcp(4, '0100007F:1F90', '01', 105),
];
// [::]:8080, [::1]:8080, [::ffff:127.0.0.1]:8080
const TCP6 = [
  tcp(0, '00000000000000000000000000000000:1F90', '0A', 201),
  tcp(1, '00000000000000000000000001000000:1F90', '0A', 202),
  tcp(2, '0000000000000000FFFF00000100007F:1F90', '0A', 203),
];

describe('listeningSockets', () => {
  it('reads the LISTEN sockets of one port from tcp and tcp6, addresses decoded', () => {
    const sockets = listeningSockets(fakeProc({ tcp: TCP, tcp6: TCP6 }), 8080);
    expect(sockets.map((s) => [s.address, s.inode])).toEqual([
      ['0.0.0.0', '101'],
      ['127.0.0.1', '102'],
      ['10.1.2.3', '103'],
      ['::', '201'],
      ['::1', '202'],
      ['127.0.0.1', '203'], // IPv4-mapped
    ]);
  });

  it('finds nothing without /proc', () => {
    expect(listeningSockets(fakeProc({}), 8080)).toEqual([]);
  });
});

describe('foreignListeners', () => {
  const procs = {
    10: { cmdline: ['/usr/bin/node', '/app/bin/flusso', '--admin-token', 'secret-token-value'], comm: 'MainThread', sockets: [300] },
    11: { cmdline: ['/usr/bin/node', '/app/dist/worker/main.js'], comm: 'MainThread', ppid: 10, sockets: [101] },
    12: { cmdline: ['/usr/bin/node', '/app/dist/worker/main.js'], comm: 'MainThread', ppid: 10, sockets: [101, 201] },
    40: { cmdline: ['nginx: master process /usr/sbin/nginx'], comm: 'nginx', sockets: [103] },
    50: { cmdline: ['/usr/bin/node', '/srv/other.mjs'], comm: 'MainThread', sockets: [102, 202, 203] },
  };

  it('calls no socket foreign when every overlapping one is ours', () => {
    const proc = fakeProc({ tcp: [tcp(0, '00000000:1F90', '0A', 101)], procs });
    expect(foreignListeners([HTTP], [10, 11, 12], proc)).toEqual([]);
  });

  it('names the processes of overlapping sockets that are not ours, never their arguments', () => {
    const proc = fakeProc({ tcp: TCP, tcp6: TCP6, procs });
    const [found, ...rest] = foreignListeners([HTTP], [10, 11, 12], proc);
    expect(rest).toEqual([]);
    // 0.0.0.0 overlaps every IPv4 address (an IPv4-mapped one too) and the dual-stack [::], not
    // ::1; 101 and 201 are ours.
    expect(found?.sockets.map((s) => s.inode)).toEqual(['102', '103', '203']);
    expect(renderHolders(found?.holders ?? [])).toBe('pid 40 (nginx), pid 50 (node other.mjs)');
    const text = sharedPortProblem(found!);
    expect(text).toBe('the HTTP listener 0.0.0.0:8080 (--http-port / --http-address) is shared with another process (pid 40 (nginx), pid 50 (node other.mjs)): with SO_REUSEPORT the kernel would split the connections between us');
  });

  it('matches a specific address only against itself and the wildcards', () => {
    const proc = fakeProc({ tcp: TCP, tcp6: TCP6, procs });
    const [found] = foreignListeners([HTTP_LOOPBACK], [], proc);
    // Not 10.1.2.3 (103) nor ::1 (202); the IPv4-mapped 127.0.0.1 (203) is the same address.
    expect(found?.sockets.map((s) => s.inode)).toEqual(['101', '102', '201', '203']);
  });

  it('shows another Flusso as one, its workers grouped under their primary', () => {
    const proc = fakeProc({ tcp: TCP, tcp6: TCP6, procs });
    const [found] = foreignListeners([HTTP], [50, 40], proc);
    expect(renderHolders(found?.holders ?? [])).toBe('another Flusso (primary pid 10, worker pids 11, 12)');
  });

  it('says when the holder cannot be seen', () => {
    const proc = fakeProc({ tcp: [tcp(0, '00000000:1F90', '0A', 999)] });
    const [found] = foreignListeners([HTTP], [], proc);
    expect(sharedPortProblem(found!)).toContain('socket inode 999, whose process this user cannot see');
  });

  it('never checks port 0', () => {
    expect(foreignListeners([{ ...HTTP, port: 0 }], [], fakeProc({ tcp: [tcp(0, '00000000:0000', '0A', 1)] }))).toEqual([]);
  });
});

describe('listenProblem', () => {
  it('names the listener, its flags, the OS reason and, for a port in use, the holder', () => {
    const proc = fakeProc({ tcp: TCP, procs: { 40: { cmdline: ['nginx'], comm: 'nginx', sockets: [101] } } });
    expect(listenProblem(HTTP, describeListenError('EADDRINUSE'), proc)).toBe(
      'cannot bind the HTTP listener 0.0.0.0:8080 (--http-port / --http-address): address already in use: another process listens on it (EADDRINUSE); held by pid 40 (nginx)',
    );
    expect(listenProblem({ ...HTTP, port: 80 }, describeListenError('EACCES'), proc)).toBe(
      'cannot bind the HTTP listener 0.0.0.0:80 (--http-port / --http-address): permission denied: ports below 1024 need root or CAP_NET_BIND_SERVICE (EACCES)',
    );
    expect(listenProblem({ ...HTTP, address: '2001:db8::1' }, describeListenError('EADDRNOTAVAIL'), proc)).toBe(
      'cannot bind the HTTP listener [2001:db8::1]:8080 (--http-port / --http-address): address not available: no network interface of this host has it (EADDRNOTAVAIL)',
    );
  });
});

/** listenOn holds a port in this process. */
async function listenOn(host: string, port = 0): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, resolve);
  });
  onTestFinished(() => new Promise<void>((r) => server.close(() => r())));
  return server;
}

describe('probeListen and checkListeners (real sockets)', () => {
  it('a free port passes, a held one fails with EADDRINUSE, and port 0 is never probed', async () => {
    const held = await listenOn('127.0.0.1');
    const port = (held.address() as { port: number }).port;
    expect(await probeListen('127.0.0.1', port)).toMatchObject({ code: 'EADDRINUSE' });
    expect(await probeListen('127.0.0.1', 0)).toBeNull();
    held.close();
    await new Promise((r) => held.once('close', r));
    expect(await probeListen('127.0.0.1', port)).toBeNull();
  });

  it('checkListeners lists every listener that fails, each with its reason', async () => {
    const held = await listenOn('127.0.0.1');
    const port = (held.address() as { port: number }).port;
    const err = await checkListeners([
      { ...HTTP_LOOPBACK, port },
      { name: 'admin', address: '203.0.113.9', port: 9, flags: '--admin-port / --admin-address' },
      { ...HTTP_LOOPBACK, name: 'HTTPS', port: 0 },
    ]).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ING_ERR_LISTEN_FAILED' });
    const lines = (err as Error).message.split('\n');
    expect(lines[0]).toBe('cannot bind 2 listeners:');
    expect(lines[1]).toMatch(new RegExp(`^  cannot bind the HTTP listener 127\\.0\\.0\\.1:${port} .*\\(EADDRINUSE\\); held by pid ${process.pid} `));
    expect(lines[2]).toBe('  cannot bind the admin listener 203.0.113.9:9 (--admin-port / --admin-address): address not available: no network interface of this host has it (EADDRNOTAVAIL)');
  });
});
