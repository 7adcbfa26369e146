/**
 * This Flusso's own listeners as endpoints (issue 14 item 5): a Service whose endpoint is the
 * HTTP, HTTPS or admin port of this very Flusso on a local address would make every request a
 * loop through the proxy (each hop a new upstream connection), or put the admin API behind a
 * public route. Such an endpoint is never used, and each Ingress that leads to it is told why.
 * Pure: main.ts reads the host's addresses and passes them in CompileOptions.
 */

/** Listener is one listening socket of this Flusso. */
export interface Listener {
  /** How messages name it: `HTTP`, `HTTPS`, `admin`. */
  readonly name: string;
  readonly port: number;
  /** The bind address; `0.0.0.0` or `::` listen on every address of the host. */
  readonly address: string;
}

/** SelfListeners is what compile needs to recognise this Flusso as an endpoint. */
export interface SelfListeners {
  readonly listeners: readonly Listener[];
  /** The host's interface addresses (the pod IP in Kubernetes); loopback is always local. */
  readonly localAddresses: readonly string[];
}

const UNSPECIFIED = new Set(['0.0.0.0', '::', '']);

/** isLoopback tells 127.0.0.0/8 and ::1 (plain or IPv4-mapped). */
function isLoopback(address: string): boolean {
  const a = address.toLowerCase().replace(/^::ffff:/, '');
  return a.startsWith('127.') || a === '::1';
}

/**
 * selfListenerOf returns the listener of this Flusso that `address:port` reaches, or undefined.
 * A listener bound to every address is reached through loopback, the unspecified address and
 * any address of the host; one bound to a single address through that address (and, for a
 * loopback one, through the unspecified address, which connects to the local host).
 */
export function selfListenerOf(address: string, port: number, self: SelfListeners | undefined): Listener | undefined {
  if (self === undefined) return undefined;
  const a = address.toLowerCase().replace(/^::ffff:/, '');
  for (const l of self.listeners) {
    if (l.port !== port) continue;
    if (UNSPECIFIED.has(l.address)) {
      if (isLoopback(a) || UNSPECIFIED.has(a) || self.localAddresses.some((x) => x.toLowerCase() === a)) return l;
    } else if (l.address.toLowerCase() === a || (UNSPECIFIED.has(a) && isLoopback(l.address))) return l;
  }
  return undefined;
}
