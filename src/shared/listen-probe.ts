/**
 * Why a listening socket cannot be bound, in words an operator can act on. uWebSockets.js
 * reports a failed listen as `false`, without the OS reason, and binds with SO_REUSEPORT, so
 * a port another process of the same user already holds that way is shared silently. A plain
 * node:net bind of the same address and port answers both questions: it has no SO_REUSEPORT
 * (so any existing listener refuses it) and it fails with the errno. Like uws-native.ts this is
 * a deliberate exception to shared/ being free of I/O: the primary (before it forks workers)
 * and a worker (after uWS refused) ask it the same way. See docs/errors.md
 * (ING_ERR_LISTEN_FAILED).
 */
import { createServer } from 'node:net';

/** ListenFailure is the OS's answer to a bind that failed. */
export interface ListenFailure {
  /** The errno name: EADDRINUSE, EACCES, EADDRNOTAVAIL, ENOTFOUND (a name that does not resolve), … */
  readonly code: string;
  /** What it means, for the message. */
  readonly reason: string;
}

const REASONS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'address already in use: another process listens on it',
  EACCES: 'permission denied: ports below 1024 need root or CAP_NET_BIND_SERVICE',
  EADDRNOTAVAIL: 'address not available: no network interface of this host has it',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name could not be resolved (temporary DNS failure)',
  EAFNOSUPPORT: 'this host does not support that address family',
};

/** describeListenError turns an errno name into a ListenFailure. */
export function describeListenError(code: string | undefined, fallback = 'unknown error'): ListenFailure {
  const c = code ?? 'UNKNOWN';
  return { code: c, reason: REASONS[c] ?? fallback };
}

/** formatListenFailure renders `reason (CODE)`, as every listen message shows it. */
export function formatListenFailure(f: ListenFailure): string {
  return `${f.reason} (${f.code})`;
}

/**
 * probeListen binds `address:port` and releases it at once. It resolves null when the bind
 * worked, else the failure. Without `reusePort` the probe refuses to share the port with any
 * listener (uWS's SO_REUSEPORT ones included), which is what the primary wants before it forks
 * workers; with it, a worker can probe beside its siblings to learn why uWS failed. Port 0 is
 * always free.
 */
export function probeListen(address: string, port: number, opts: { readonly reusePort?: boolean } = {}): Promise<ListenFailure | null> {
  if (port === 0) return Promise.resolve(null);
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => {
      server.close();
      resolve(describeListenError(err.code, err.message));
    });
    const host = address === '' ? undefined : address;
    server.listen({ host, port, exclusive: true, ...(opts.reusePort === true ? { reusePort: true } : {}) }, () => {
      server.close(() => resolve(null));
    });
  });
}
