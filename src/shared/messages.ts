/**
 * The IPC messages between the primary and its node:cluster workers. The channel uses
 * `serialization: 'advanced'`, so snapshot bytes travel as a Uint8Array, not as JSON.
 */
import type { ClientAddressSettings } from './client-address.js';
import type { WireError } from './errors.js';
import type { RateDemandMessage, RateSharesMessage } from './rate-limit.js';
import type { BasicAuthMessage } from './basic-auth.js';
import type { StatsDelta } from './stats.js';

/** WorkerConfig is everything a worker needs to know that is not in the snapshot. */
export interface WorkerConfig {
  readonly httpPort: number;
  readonly httpAddress: string;
  /** `--keep-alive-timeout`: idle time a client keep-alive connection is kept. */
  readonly keepAliveTimeoutMs: number;
  /** `--client-header-timeout`: time a client has to send a request head (a body must keep up 16 KiB/s over it). */
  readonly clientHeaderTimeoutMs: number;
  /** `--max-request-target-bytes`, `--max-request-field-bytes`, `--max-request-fields`: Flusso's own head limits (request-guard.ts). */
  readonly maxRequestTargetBytes: number;
  /** `--max-request-head-bytes`: uWS reads it from its environment; node's HTTPS front (proxy/node-front.ts) from here. Absent: 32 KiB. */
  readonly maxRequestHeadBytes?: number;
  readonly maxRequestFieldBytes: number;
  readonly maxRequestFields: number;
  /**
   * `--max-request-body-bytes` (0: no limit), `--client-body-buffer-bytes`, `--client-body-timeout`:
   * the request-body defaults a route may override (proxy/request-body.ts). Absent: no limit, 16 KiB, 60 s.
   */
  readonly maxRequestBodyBytes?: number;
  readonly clientBodyBufferBytes?: number;
  readonly clientBodyTimeoutMs?: number;
  /** The trusted-proxy settings (--use-forwarded-headers, --use-proxy-protocol, …; docs/client-address.md); absent: the socket's peer is the client. */
  readonly clientAddress?: ClientAddressSettings;
  /** The HTTPS listener; null: none (in-process tests of the HTTP path). */
  readonly https: HttpsSettings | null;
  /** The `--upstream-*` settings, each under its flag's name (a duration's with `Ms`). */
  readonly upstreamConnectTimeoutMs: number;
  readonly upstreamResponseTimeoutMs: number;
  readonly upstreamIdleTimeoutMs: number;
  readonly upstreamKeepAliveTimeoutMs: number;
  readonly upstreamMaxConnections: number;
  readonly drainTimeoutMs: number;
  /** `--websocket-idle-timeout`, `--websocket-max-message-bytes`, `--websocket-max-buffered-bytes` (docs/websocket.md). */
  readonly websocketIdleTimeoutMs: number;
  readonly websocketMaxMessageBytes: number;
  readonly websocketMaxBufferedBytes: number;
  readonly logLevel: string;
  readonly logFormat: 'json' | 'pretty';
  /** The file descriptor the worker logs to: 3 when forked by the primary (its stdout), else 1. */
  readonly logFd: number;
  /** Access log sampling: 0 = off, 1 = every request, N = one request in N. */
  readonly accessLogEvery: number;
  /** Count requests for metrics (WorkerStats) and flush them to the primary. */
  readonly metrics: boolean;
  /** `--metrics-ingress-nginx-compat`: also count the cells of the ingress-nginx-compatible family. */
  readonly metricsIngressNginxCompat?: boolean;
  /** `--metrics-ingress-nginx-path`: those cells are per route path too. */
  readonly metricsIngressNginxPath?: boolean;
  readonly serverHeader: string;
  /** `--cache-max-bytes`: the bound on each worker's response cache (keys, headers and bodies). */
  readonly cacheMaxBytes: number;
  /** `--cache-max-object-bytes`: larger responses stream through and are never buffered. */
  readonly cacheMaxObjectBytes: number;
  /** `--cache-lock-timeout`: how long a request waits for another's fetch of the same key before it goes upstream itself. */
  readonly cacheLockTimeoutMs: number;
  /** `--rate-limit-status` and the number of workers sharing each limit (docs/rate-limits.md). Absent: 503, 1 worker. */
  readonly rateLimit?: { readonly status: number; readonly workers: number };
}

/** HttpsSettings configure a worker's HTTPS listener (the certificates come with each snapshot). */
export interface HttpsSettings {
  readonly port: number;
  /** Empty: every address. */
  readonly address: string;
  /** OpenSSL cipher list for TLS 1.2 (TLS 1.3 suites are fixed by the TLS library). */
  readonly ciphers: string;
  /** The Strict-Transport-Security value for every HTTPS response, or null (`--hsts false`). */
  readonly hsts: string | null;
  /** The port in the Location of HTTP → HTTPS redirects (443: none written). */
  readonly redirectPort: number;
  /** `--http2`: the port offers h2 (ALPN) and runs on node:http2 instead of uWS (docs/http2.md). Absent: off. */
  readonly http2?: boolean;
  /**
   * The session ticket keys (48 random bytes, made once by the primary) every worker encrypts
   * TLS session tickets with, so a ticket resumes on any worker (docs/tls.md). Secret: never
   * logged or shown. Used by the node:http2 front; absent: each worker's own keys.
   */
  readonly sessionTicketKeys?: Uint8Array;
}

/**
 * CachePurgeSelector selects cached responses to drop; every given field must match and `{}`
 * selects everything. `host` is compared lower-case without port; `ingress` is `namespace/name`.
 */
export interface CachePurgeSelector {
  readonly host?: string;
  readonly pathPrefix?: string;
  readonly ingress?: string;
}

/** InitMessage is the first message a worker receives: config plus the current snapshot. */
export interface InitMessage {
  readonly type: 'init';
  readonly workerId: number;
  readonly config: WorkerConfig;
  /** msgpack bytes of a RoutingSnapshot. */
  readonly snapshot: Uint8Array;
}

/** SnapshotMessage replaces the worker's routing state. */
export interface SnapshotMessage {
  readonly type: 'snapshot';
  readonly snapshot: Uint8Array;
}

/** EndpointsMessage replaces the endpoints of some backends (an EndpointsDelta, codec.ts). */
export interface EndpointsMessage {
  readonly type: 'endpoints';
  /** msgpack bytes of an EndpointsDelta. */
  readonly delta: Uint8Array;
}

/** DrainMessage starts graceful shutdown: stop accepting, finish in-flight, exit 0. */
export interface DrainMessage {
  readonly type: 'drain';
}

/** CachePurgeMessage asks a worker to drop the cached responses `selector` matches; it answers CachePurgedMessage with the same id. */
export interface CachePurgeMessage {
  readonly type: 'cache-purge';
  readonly id: number;
  readonly selector: CachePurgeSelector;
}

/**
 * CacheInvalidateMessage names primary cache keys an unsafe request (POST, PUT, DELETE, ... answered
 * 2xx/3xx) invalidated (RFC 9111 §4.4). A worker sends it to the primary after dropping its own
 * entries; the primary forwards it to every other worker.
 */
export interface CacheInvalidateMessage {
  readonly type: 'cache-invalidate';
  readonly keys: readonly string[];
}

/** PrimaryMessage is any message the primary sends a worker. */
export type PrimaryMessage = InitMessage | SnapshotMessage | EndpointsMessage | DrainMessage | CachePurgeMessage | CacheInvalidateMessage | RateSharesMessage | BasicAuthMessage;

/**
 * HelloMessage is the first message a worker sends, once its message listener is attached;
 * the primary answers with InitMessage. (Messages sent before the listener exists are lost.)
 */
export interface HelloMessage {
  readonly type: 'hello';
}

/** ListeningMessage says the worker has applied its init snapshot and listens. */
export interface ListeningMessage {
  readonly type: 'listening';
  readonly generation: number;
  /** The worker's Node.js version (`process.version`), shown in the admin API and GUI. */
  readonly node: string;
}

/** AckMessage says the worker serves `generation` now. */
export interface AckMessage {
  readonly type: 'ack';
  readonly generation: number;
}

/** RejectMessage says the worker could not apply a snapshot (or delta) and keeps serving `current`. */
export interface RejectMessage {
  readonly type: 'reject';
  readonly current: number;
  /** What was rejected; after a rejected delta the primary sends the full snapshot. Absent means 'snapshot'. */
  readonly kind?: 'snapshot' | 'endpoints';
  readonly error: WireError;
}

/** FatalMessage is sent just before a worker exits on an error it cannot recover from. */
export interface FatalMessage {
  readonly type: 'fatal';
  readonly error: WireError;
}

/** StatsMessage carries what a worker counted since its last flush (about once a second). */
export interface StatsMessage {
  readonly type: 'stats';
  readonly delta: StatsDelta;
}

/** CachePurgedMessage answers CachePurgeMessage `id` with how many entries this worker dropped. */
export interface CachePurgedMessage {
  readonly type: 'cache-purged';
  readonly id: number;
  readonly purged: number;
}

/** WorkerMessage is any message a worker sends the primary. */
export type WorkerMessage = HelloMessage | ListeningMessage | AckMessage | RejectMessage | FatalMessage | StatsMessage | CachePurgedMessage | CacheInvalidateMessage | RateDemandMessage;

/** isWorkerMessage checks the shape of an untrusted IPC message. */
export function isWorkerMessage(m: unknown): m is WorkerMessage {
  if (typeof m !== 'object' || m === null) return false;
  const t = (m as { type?: unknown }).type;
  return t === 'hello' || t === 'listening' || t === 'ack' || t === 'reject' || t === 'fatal' || t === 'stats' || t === 'cache-purged' || t === 'cache-invalidate' || t === 'rate-demand';
}

/** isPrimaryMessage checks the shape of an untrusted IPC message. */
export function isPrimaryMessage(m: unknown): m is PrimaryMessage {
  if (typeof m !== 'object' || m === null) return false;
  const t = (m as { type?: unknown }).type;
  return t === 'init' || t === 'snapshot' || t === 'endpoints' || t === 'drain' || t === 'cache-purge' || t === 'cache-invalidate' || t === 'rate-shares' || t === 'basic-auth';
}
