/**
 * The routing snapshot: the whole contract from the primary (control plane) to the workers
 * (data plane), together with messages.ts. It is immutable, encoded once with msgpackr
 * (codec.ts) and sent as the same bytes to every worker.
 */

import type { RouteBasicAuth } from './basic-auth.js';
import type { RouteConnLimit } from './conn-limit.js';
import type { RouteExternalAuth } from './external-auth.js';
import type { RouteAffinity } from './affinity.js';
import type { RouteCanary } from './canary.js';
import type { RouteRateLimit } from './rate-limit.js';
import type { RouteSourceRange } from './source-range.js';
import type { RouteUpstream } from './upstream-policy.js';
import type { RouteHeaders } from './custom-headers.js';

/** SNAPSHOT_VERSION is the schema version; a worker refuses a snapshot of another version. */
export const SNAPSHOT_VERSION = 4;

/** PathMatch is the Ingress v1 path type after compilation (ImplementationSpecific becomes Prefix). */
export type PathMatch = 'Exact' | 'Prefix';

/**
 * Route is one path rule of a virtual host.
 *
 * `path` is normalised by the compiler: an Exact path as written; a Prefix path without its
 * trailing slash (so `/aaa/bbb/` is stored as `/aaa/bbb`), and `/` stays `/`.
 */
export interface Route {
  readonly match: PathMatch;
  readonly path: string;
  /** Backend id (see keys.ts backendId); the backend exists in `backends`, possibly with no endpoints. */
  readonly backend: string;
  /** Source Ingress as `namespace/name`. */
  readonly source: string;
  /** The route's response-cache policy (issue 6); absent when the route is not cached. */
  readonly cache?: RouteCache;
  /**
   * The route's path is a regular expression (ingress-nginx `use-regex` or `rewrite-target` on
   * some Ingress of the host, issue 15): it matches a request path case-insensitively from its
   * start (`location ~* "^path"`), with RE2 semantics (linear time). Every route of such a host
   * has it, and they are in ingress-nginx's order: longest `path` text first, the first match wins.
   */
  readonly regex?: true;
  /** What the Ingress's ingress-nginx annotations do to this route's requests (issue 15); absent when nothing. */
  readonly policy?: RoutePolicy;
  /**
   * Plain-HTTP requests get a 308 to https (issue 11): the host has TLS and the Ingress does not
   * say `nginx.ingress.kubernetes.io/ssl-redirect: "false"`, or it says `force-ssl-redirect: "true"`.
   */
  readonly httpsRedirect?: true;
  /**
   * The route's request-body settings (issue 14 item 3); absent, or a field absent: the worker's
   * global flags (--max-request-body-bytes, --client-body-buffer-bytes). Per-Ingress annotations
   * (proxy-body-size, client-body-buffer-size, proxy-request-buffering) fill it.
   */
  readonly requestBody?: RouteRequestBody;
  /** ingress-nginx `limit-rps`, `limit-rpm` (issue 15 item 7, docs/rate-limits.md); absent: no limit. */
  readonly rateLimit?: RouteRateLimit;
  /** ingress-nginx `allowlist-source-range` / `denylist-source-range` (issue 15 item 6, shared/source-range.ts); absent: every client. */
  readonly sourceRange?: RouteSourceRange;
  /** ingress-nginx `limit-connections` (issue 15 item 7, docs/rate-limits.md); absent: no limit. */
  readonly connLimit?: RouteConnLimit;
  /** ingress-nginx `auth-url` and its companions (issue 15 group 6, shared/external-auth.ts); absent: none. */
  readonly externalAuth?: RouteExternalAuth;
  /** ingress-nginx `auth-type: basic` (issue 15 group 6, shared/basic-auth.ts); absent: none. */
  readonly basicAuth?: RouteBasicAuth;
  /** ingress-nginx `proxy-*-timeout`, `proxy-next-upstream*` (issue 15 group 3, shared/upstream-policy.ts); absent: the global settings. */
  readonly upstream?: RouteUpstream;
  /** ingress-nginx `upstream-hash-by` (issue 15 group 5, shared/upstream-hash.ts): the key as literal text and `$variable` parts; absent: the backend's balancer. */
  readonly hashBy?: readonly string[];
  /** ingress-nginx canary: a canary Ingress's backend for this host and path, and when it takes a request (shared/canary.ts); absent: none. */
  readonly canary?: RouteCanary;
  /** ingress-nginx `affinity: cookie` (shared/affinity.ts): the sticky cookie; absent: none. */
  readonly affinity?: RouteAffinity;
  /** ingress-nginx `default-backend` (compile/default-backend-annotations.ts): the backend that takes the route's requests while its own has no ready endpoint; absent: none (503). */
  readonly fallbackBackend?: string;
  /** ingress-nginx `custom-headers`, `add-headers`, `proxy-set-headers` (shared/custom-headers.ts): fields added to responses and upstream requests; absent: none. */
  readonly headers?: RouteHeaders;
  /** ingress-nginx `custom-http-errors` (compile/custom-http-errors-annotations.ts): upstream answers replaced by the default backend's; absent: none. */
  readonly errorPages?: RouteErrorPages;
}

/**
 * RouteErrorPages is a route's `custom-http-errors` (worker/proxy/error-pages.ts): an upstream
 * answer with one of `codes` is replaced by what `backend` (the Ingress's `default-backend`)
 * answers to the request ingress-nginx's `@custom_…` location makes, with these X-* fields.
 */
export interface RouteErrorPages {
  readonly codes: readonly number[];
  readonly backend: string;
  /** X-Namespace, X-Ingress-Name, X-Service-Name, X-Service-Port of the route. */
  readonly namespace: string;
  readonly ingress: string;
  readonly service: string;
  readonly port: string;
}

/** RouteRequestBody overrides the global request-body settings for one route (worker/proxy/request-body.ts). */
export interface RouteRequestBody {
  /** Largest request body accepted (413 above it); 0: no limit (ingress-nginx proxy-body-size). */
  readonly maxBytes?: number;
  /** Bodies up to this size are read whole before the upstream request starts (client-body-buffer-size). */
  readonly bufferBytes?: number;
  /** false: stream the body upstream as it arrives, without buffering (proxy-request-buffering: off). */
  readonly buffering?: boolean;
}

/**
 * RouteCache turns the worker's response cache on for a route: the Ingress annotation
 * `flusso.dev/cache: "true"` or `--cache-default on` (an Ingress opts out with `"false"`).
 */
export interface RouteCache {
  /**
   * `flusso.dev/cache-ttl` in seconds: how long a response that carries no freshness
   * information of its own (Cache-Control max-age/s-maxage, Expires) stays fresh. Null: only
   * responses with explicit freshness are stored.
   */
  readonly ttlSeconds: number | null;
}

/**
 * RoutePolicy is the compiled form of a route's ingress-nginx annotations (issue 15,
 * docs/annotations.md). The primary validated every value; a worker only executes it.
 */
export interface RoutePolicy {
  /** `permanent-redirect` / `temporal-redirect`: answer every request with this redirect. */
  readonly redirect?: RouteRedirect;
  /** `from-to-www-redirect`: this route serves the other name; answer `code` to the same scheme on `host` (one trailing `/` of the target dropped). */
  readonly hostRedirect?: { readonly host: string; readonly code: number };
  /** `app-root`: a request for exactly `/` gets 302 to `scheme://Host` + this path. */
  readonly appRoot?: string;
  /** `rewrite-target`: when `pattern` (RE2, case-insensitive, unanchored) matches the path, the upstream path becomes `target` with `$n` expanded. */
  readonly rewrite?: { readonly pattern: string; readonly target: string };
  /** `x-forwarded-prefix` (only with rewrite-target, as ingress-nginx): sent as X-Forwarded-Prefix. */
  readonly forwardedPrefix?: string;
  /** `upstream-vhost`: the Host field sent upstream. */
  readonly upstreamVhost?: string;
  /** `enable-cors` and its `cors-*` annotations. */
  readonly cors?: RouteCors;
}

/** RouteRedirect is a whole-route redirect: `url` is literal text and nginx variables (`$request_uri`, `$host`, …) in order. */
export interface RouteRedirect {
  readonly code: number;
  readonly url: readonly string[];
}

/** RouteCors is ingress-nginx's CORS behaviour for a route; the lists are sent as written. */
export interface RouteCors {
  /** Allowed origins as written (`https://a.com`, `https://*.a.com`), or `["*"]` for any. */
  readonly origins: readonly string[];
  readonly methods: string;
  readonly headers: string;
  /** Empty: no Access-Control-Expose-Headers. */
  readonly exposeHeaders: string;
  readonly credentials: boolean;
  readonly maxAgeSeconds: number;
}

/**
 * VirtualHost is the set of routes for one host pattern.
 *
 * `host` is lower-case and one of: an exact name (`foo.bar.com`), a single-label wildcard
 * (`*.foo.com`), or `*` for rules that named no host (they match any host that has no
 * exact or wildcard virtual host of its own).
 *
 * `routes` are in match order: every Exact route first (sorted by path), then Prefix routes,
 * longest path first (ties by path). A router may rely on that order.
 */
export interface VirtualHost {
  readonly host: string;
  readonly routes: readonly Route[];
}

/** Endpoint is one ready (or terminating-but-serving) address of a backend. */
export interface Endpoint {
  readonly address: string;
  readonly port: number;
  /** Relative weight, >= 0; 0 takes no new requests. Defaults to 1. */
  readonly weight: number;
  /** `conditions.ready` of the EndpointSlice entry (nil counts as ready). */
  readonly ready: boolean;
  /** `conditions.terminating`; a terminating endpoint is used only when no ready one exists. */
  readonly terminating: boolean;
  readonly zone?: string;
}

/** LoadBalancerName names a balancing algorithm a worker implements. */
export type LoadBalancerName = 'round-robin' | 'ewma';

/** Backend is the upstream for one Service port, with its endpoints and policy. */
export interface Backend {
  readonly id: string;
  /** Service as `namespace/name`. */
  readonly service: string;
  /** The Service port as the Ingress referenced it (number or name). */
  readonly servicePort: number | string;
  /** Endpoints sorted by address then port; may be empty (requests get 503). */
  readonly endpoints: readonly Endpoint[];
  readonly loadBalancer: LoadBalancerName;
  /**
   * What the endpoints speak when not HTTP/1.1 (absent): `h2c` HTTP/2 without TLS (gRPC, or a
   * Service port with appProtocol kubernetes.io/h2c), `h2` HTTP/2 over TLS (gRPCS). Issue 12.
   */
  readonly protocol?: 'h2c' | 'h2';
}

/**
 * Overrides are operator decisions made at run time (admin API / GUI), applied on top of
 * what the cluster state says. Endpoint keys are `backendId|ip:port`.
 */
export interface Overrides {
  readonly drained: readonly string[];
  readonly weights: readonly (readonly [string, number])[];
}

/**
 * RoutingTable is what the compiler produces: a pure function of the cluster objects and
 * the compile options. The same input gives byte-identical encoded output.
 */
export interface RoutingTable {
  /** Virtual hosts sorted by host; the catch-all `*` (if any) included. */
  readonly hosts: readonly VirtualHost[];
  /** The Ingress `spec.defaultBackend` of the oldest Ingress that has one, or null. */
  readonly defaultBackend: Route | null;
  /** Every backend referenced by a route or the default backend, sorted by id. */
  readonly backends: readonly Backend[];
}

/**
 * TlsCertificate names one certificate chain and its private key as PEM files in the
 * primary's TLS directory (uWebSockets.js reads files only). The snapshot never carries key
 * material: the files are written by the primary after validating the pair, named by content,
 * and readable by this user alone.
 */
export interface TlsCertificate {
  /** Content id: the same chain and key always get the same id (and files). */
  readonly id: string;
  readonly certFile: string;
  readonly keyFile: string;
}

/** TlsServerName maps one SNI name (exact, or a one-label wildcard `*.example.com`) to a certificate id. */
export interface TlsServerName {
  readonly name: string;
  readonly certificate: string;
}

/**
 * TlsSnapshot is what the HTTPS listener serves: a certificate per SNI name, and the default
 * certificate for connections without SNI or with a name none claims.
 */
export interface TlsSnapshot {
  readonly defaultCertificate: TlsCertificate;
  /** Every certificate a server name uses, sorted by id. */
  readonly certificates: readonly TlsCertificate[];
  /** Sorted by name; names are lower-case. */
  readonly serverNames: readonly TlsServerName[];
}

/** RoutingSnapshot is a RoutingTable stamped with schema version and generation by the broadcaster. */
export interface RoutingSnapshot {
  readonly version: number;
  /** Monotonically increasing per primary process; workers ack it. */
  readonly generation: number;
  readonly table: RoutingTable;
  readonly overrides: Overrides;
  /** Null until the primary has its default certificate (tests without HTTPS). */
  readonly tls: TlsSnapshot | null;
}

/** BackendEndpoints is the new endpoint list of one backend in an EndpointsDelta. */
export interface BackendEndpoints {
  readonly id: string;
  readonly endpoints: readonly Endpoint[];
}

/**
 * EndpointsDelta is the small message for an endpoint-only change: generation `generation`
 * is generation `base` with the endpoints of `backends` replaced, and nothing else changed.
 * A worker applies it only on top of exactly `base` (else it rejects it and the primary
 * sends the full snapshot).
 */
export interface EndpointsDelta {
  readonly version: number;
  readonly generation: number;
  readonly base: number;
  readonly backends: readonly BackendEndpoints[];
}

/** EMPTY_TABLE routes nothing: every request gets Flusso's 404. */
export const EMPTY_TABLE: RoutingTable = Object.freeze({ hosts: [], defaultBackend: null, backends: [] });

/** NO_OVERRIDES is the empty override set. */
export const NO_OVERRIDES: Overrides = Object.freeze({ drained: [], weights: [] });
