/**
 * Start-up that fails safe (docs/errors.md, ING_ERR_LISTEN_FAILED; README "Start-up checks").
 *
 * uWebSockets.js binds the proxy ports with SO_REUSEPORT and says only `false` when a bind
 * fails. So, before any worker is forked, every listener (HTTP, HTTPS, admin) is bound once
 * with a plain node:net socket without SO_REUSEPORT (shared/listen-probe.ts): a port another
 * program or another Flusso holds, a port below 1024 without the privilege, or an address this
 * host does not have fails there with the OS reason, and Flusso exits 1 naming the address.
 *
 * Two processes that both pass that check at the same moment could still both bind with
 * SO_REUSEPORT. So once the workers listen, the LISTEN sockets of the proxy ports
 * (/proc/net/tcp, /proc/net/tcp6) are matched against the sockets our own processes hold
 * (/proc/PID/fd): one that is not ours means the port is shared, and Flusso refuses it.
 * Without /proc (not Linux) that second check finds nothing and passes.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { isIP } from 'node:net';
import { basename } from 'node:path';
import { endianness } from 'node:os';
import { IngressError } from '../shared/errors.js';
import { formatListenFailure, probeListen, type ListenFailure } from '../shared/listen-probe.js';

/** Listener is one socket Flusso listens on, and the flags that set it. */
export interface Listener {
  /** `HTTP`, `HTTPS` or `admin`. */
  readonly name: string;
  readonly address: string;
  readonly port: number;
  /** The flags an operator changes to move it, e.g. `--http-port / --http-address`. */
  readonly flags: string;
}

/** ListenSocket is a LISTEN socket of this network namespace. */
export interface ListenSocket {
  readonly address: string;
  readonly port: number;
  readonly inode: string;
}

/** Holder is a process that holds a socket. */
export interface Holder {
  readonly pid: number;
  /** A Flusso primary, a Flusso worker (with its primary's pid), or any other process (by name, never its arguments). */
  readonly kind: 'flusso' | 'flusso-worker' | 'other';
  readonly primary?: number;
  readonly name: string;
}

/** renderHolders shows who holds a socket: `another Flusso (primary pid 12, worker pids 13, 14)`, `pid 40 (nginx)`. */
export function renderHolders(holders: readonly Holder[]): string {
  const flussos = new Map<number, number[]>();
  const others: string[] = [];
  for (const h of [...holders].sort((a, b) => a.pid - b.pid)) {
    if (h.kind === 'flusso') flussos.set(h.pid, flussos.get(h.pid) ?? []);
    else if (h.kind === 'flusso-worker' && h.primary !== undefined) flussos.set(h.primary, [...(flussos.get(h.primary) ?? []), h.pid]);
    else others.push(`pid ${h.pid} (${h.name})`);
  }
  const shown = [...flussos].map(([primary, workers]) => `another Flusso (primary pid ${primary}${workers.length === 0 ? '' : `, worker pid${workers.length === 1 ? '' : 's'} ${workers.join(', ')}`})`);
  return [...shown, ...others].join(', ');
}

/** ProcFs is the part of /proc the checks read; tests pass a fake. */
export interface ProcFs {
  read(path: string): string | undefined;
  list(path: string): readonly string[];
  link(path: string): string | undefined;
}

/** realProcFs reads the real /proc; every failure reads as absent. */
export const realProcFs: ProcFs = {
  read: (path) => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
  },
  list: (path) => {
    try {
      return readdirSync(path);
    } catch {
      return [];
    }
  },
  link: (path) => {
    try {
      return readlinkSync(path);
    } catch {
      return undefined;
    }
  },
};

/** describeListener renders `HTTP listener 0.0.0.0:8080 (--http-port / --http-address)`. */
export function describeListener(l: Listener): string {
  return `${l.name} listener ${hostPort(l.address, l.port)} (${l.flags})`;
}

function hostPort(address: string, port: number): string {
  const host = address === '' ? '*' : address.includes(':') ? `[${address}]` : address;
  return `${host}:${port}`;
}

/**
 * checkListeners binds every listener once, in turn, and throws IngressError
 * ING_ERR_LISTEN_FAILED naming each one that failed, the OS reason and, for a port in use, the
 * process that holds it when /proc says. Port 0 (an ephemeral port) is never checked.
 */
export async function checkListeners(listeners: readonly Listener[], procfs: ProcFs = realProcFs): Promise<void> {
  const problems: string[] = [];
  for (const l of listeners) {
    const failure = await probeListen(l.address, l.port);
    if (failure !== null) problems.push(listenProblem(l, failure, procfs));
  }
  if (problems.length === 1) throw new IngressError('ING_ERR_LISTEN_FAILED', problems[0] as string);
  if (problems.length > 1) throw new IngressError('ING_ERR_LISTEN_FAILED', `cannot bind ${problems.length} listeners:\n  ${problems.join('\n  ')}`);
}

/** listenProblem renders one failed listener, naming who holds the port when it is in use. */
export function listenProblem(l: Listener, failure: ListenFailure, procfs: ProcFs = realProcFs): string {
  let text = `cannot bind the ${describeListener(l)}: ${formatListenFailure(failure)}`;
  if (failure.code === 'EADDRINUSE') {
    const holders = holdersOf(overlapping(listeningSockets(procfs, l.port), l.address), procfs, new Set());
    if (holders.length > 0) text += `; held by ${renderHolders(holders)}`;
  }
  return text;
}

/**
 * foreignListeners returns, for each listener, the LISTEN sockets on its port and an
 * overlapping address that none of `ourPids` holds, with their holders when /proc shows them.
 * Empty when all are ours (or when there is no /proc to read).
 */
export function foreignListeners(listeners: readonly Listener[], ourPids: readonly number[], procfs: ProcFs = realProcFs): { listener: Listener; sockets: ListenSocket[]; holders: Holder[] }[] {
  const active = listeners.filter((l) => l.port !== 0);
  if (active.length === 0) return [];
  const ours = new Set<string>();
  for (const pid of ourPids) for (const inode of socketInodes(procfs, pid)) ours.add(inode);
  const out: { listener: Listener; sockets: ListenSocket[]; holders: Holder[] }[] = [];
  for (const l of active) {
    const sockets = overlapping(listeningSockets(procfs, l.port), l.address).filter((s) => !ours.has(s.inode));
    if (sockets.length > 0) out.push({ listener: l, sockets, holders: holdersOf(sockets, procfs, new Set(ourPids)) });
  }
  return out;
}

/** sharedPortProblem renders one foreignListeners entry for a log line or /healthz. */
export function sharedPortProblem(f: { listener: Listener; sockets: readonly ListenSocket[]; holders: readonly Holder[] }): string {
  const who = f.holders.length > 0 ? renderHolders(f.holders) : `socket inode ${f.sockets.map((s) => s.inode).join(', ')}, whose process this user cannot see`;
  return `the ${describeListener(f.listener)} is shared with another process (${who}): with SO_REUSEPORT the kernel would split the connections between us`;
}

/** listeningSockets reads the LISTEN sockets on `port` from /proc/net/tcp and /proc/net/tcp6. */
export function listeningSockets(procfs: ProcFs, port: number): ListenSocket[] {
  const out: ListenSocket[] = [];
  for (const [file, v6] of [['/proc/net/tcp', false], ['/proc/net/tcp6', true]] as const) {
    const text = procfs.read(file);
    if (text === undefined) continue;
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // sl local_address rem_address st … uid timeout inode
      if (f.length < 10 || f[3] !== '0A') continue;
      const [hex, portHex] = (f[1] as string).split(':') as [string, string];
      if (Number.parseInt(portHex, 16) !== port) continue;
      out.push({ address: v6 ? ipv6FromProc(hex) : ipv4FromProc(hex), port, inode: f[9] as string });
    }
  }
  return out;
}

/** The kernel prints each 32-bit word of an address in host byte order. */
function words(hex: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < hex.length; i += 8) {
    const w = hex.slice(i, i + 8);
    out.push(endianness() === 'LE' ? (w.match(/../g) as string[]).reverse().join('') : w);
  }
  return out;
}

function ipv4FromProc(hex: string): string {
  const w = words(hex)[0] as string;
  return [0, 2, 4, 6].map((i) => Number.parseInt(w.slice(i, i + 2), 16)).join('.');
}

function ipv6FromProc(hex: string): string {
  const groups = words(hex).flatMap((w) => [w.slice(0, 4), w.slice(4)]);
  return canonical(groups.join(':'));
}

/** canonical writes an IP address one way: IPv6 compressed and lower case, an IPv4-mapped one as IPv4. */
function canonical(address: string): string {
  if (isIP(address) !== 6) return address;
  const host = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (mapped === null) return host;
  const n = (Number.parseInt(mapped[1] as string, 16) << 16) | Number.parseInt(mapped[2] as string, 16);
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}

/**
 * overlapping keeps the sockets whose address takes connections `address` would: the same
 * address, or a wildcard on either side (`::` may be dual-stack, so it overlaps IPv4 too). A
 * host name cannot be compared here, so it overlaps everything.
 */
function overlapping(sockets: readonly ListenSocket[], address: string): ListenSocket[] {
  const ours = canonical(address === '' ? '::' : address);
  if (isIP(ours) === 0) return [...sockets];
  return sockets.filter((s) => {
    const theirs = canonical(s.address);
    if (theirs === ours || theirs === '::' || ours === '::') return true;
    return (theirs === '0.0.0.0' && isIP(ours) === 4) || (ours === '0.0.0.0' && isIP(theirs) === 4);
  });
}

/** socketInodes lists the socket inodes a process holds. */
function socketInodes(procfs: ProcFs, pid: number): string[] {
  const out: string[] = [];
  for (const fd of procfs.list(`/proc/${pid}/fd`)) {
    const m = /^socket:\[(\d+)\]$/.exec(procfs.link(`/proc/${pid}/fd/${fd}`) ?? '');
    if (m !== null) out.push(m[1] as string);
  }
  return out;
}

/** holdersOf finds which processes (other than `skip`) hold `sockets`, scanning /proc/PID/fd. */
function holdersOf(sockets: readonly ListenSocket[], procfs: ProcFs, skip: ReadonlySet<number>): Holder[] {
  const wanted = new Set(sockets.map((s) => s.inode));
  if (wanted.size === 0) return [];
  const out: Holder[] = [];
  for (const entry of procfs.list('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (skip.has(pid)) continue;
    if (socketInodes(procfs, pid).some((i) => wanted.has(i))) out.push(describeProcess(procfs, pid));
  }
  return out;
}

/**
 * describeProcess names a process by its command name, or as Flusso when its script is
 * bin/flusso or a Flusso worker (dist/worker/main.js). Its arguments are never shown: they may
 * hold a token.
 */
function describeProcess(procfs: ProcFs, pid: number): Holder {
  const argv = (procfs.read(`/proc/${pid}/cmdline`) ?? '').split('\0');
  const script = argv[1] ?? '';
  const stat = procfs.read(`/proc/${pid}/stat`) ?? '';
  // pid (comm) state ppid …: comm may hold spaces and parentheses, so read after the last ')'.
  const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  if (/(^|\/)dist\/worker\/main\.js$/.test(script) && Number.isInteger(ppid) && ppid > 0) return { pid, kind: 'flusso-worker', primary: ppid, name: 'flusso worker' };
  if (/(^|\/)bin\/flusso$/.test(script) || /(^|\/)dist\/primary\/main\.js$/.test(script)) return { pid, kind: 'flusso', name: 'flusso' };
  const comm = (procfs.read(`/proc/${pid}/comm`) ?? '').trim();
  // Node.js names its main thread MainThread: show `node` and the script's file name instead.
  if (comm === 'MainThread' || comm === 'node') return { pid, kind: 'other', name: `node${script === '' ? '' : ` ${basename(script)}`}` };
  return { pid, kind: 'other', name: comm === '' ? 'unknown' : comm };
}
