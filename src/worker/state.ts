/**
 * WorkerState: the worker's current routing state and the only place it changes.
 *
 * A snapshot is decoded, then the router, the balancers and the upstream pools are built
 * completely, and only then is one reference swapped (Traefik's Switch). Any failure leaves
 * the previous state serving untouched, so a request never sees half a snapshot.
 */
import { decodeEndpointsDelta, decodeSnapshot } from '../shared/codec.js';
import { IngressError, type WireError } from '../shared/errors.js';
import { endpointKey } from '../shared/keys.js';
import type { WorkerConfig } from '../shared/messages.js';
import { EMPTY_TABLE, NO_OVERRIDES, type Endpoint, type EndpointsDelta, type LoadBalancerName, type Overrides, type Route, type RoutingSnapshot, type RoutingTable, type TlsSnapshot } from '../shared/snapshot.js';
import type { Balancer } from './balance/balancer.js';
import { RoundRobinBalancer } from './balance/round-robin.js';
import { EwmaBalancer } from './balance/ewma.js';
import { createRouter } from './router/host-table.js';
import type { HostRouter } from './router/router.js';
import type { RouteCounters, WorkerStats } from './stats.js';
import { UpstreamClient, type EndpointPool, type UpstreamSettings } from './upstream/client.js';

/** UpstreamPool is the part of an endpoint's keep-alive pool (upstream/client.ts) the worker uses. */
export type UpstreamPool = Pick<EndpointPool, 'request' | 'cancel' | 'close'>;

/** UpstreamEndpoint is a snapshot Endpoint with its `ip:port` key and the pool that reaches it. */
export interface UpstreamEndpoint extends Endpoint {
  readonly key: string;
  readonly pool: UpstreamPool;
}

/** BackendRuntime is one backend ready to serve: its balancer and its endpoint count. */
export interface BackendRuntime {
  readonly id: string;
  readonly balancer: Balancer<UpstreamEndpoint>;
  /** Number of endpoints listed (selectable or not); bounds retries. */
  readonly size: number;
  /** HTTP/2 to the endpoints (h2c or h2; proxy/h2-proxy.ts); absent: HTTP/1.1 through the pools. */
  readonly protocol?: 'h2c' | 'h2';
}

/** RoutingState is one immutable, fully built generation. */
export interface RoutingState {
  readonly generation: number;
  readonly router: HostRouter;
  readonly backends: ReadonlyMap<string, BackendRuntime>;
  /** The metrics counters of each route (Ingress → Service); empty when metrics are off. */
  readonly counters: ReadonlyMap<Route, RouteCounters>;
  /** The certificates the HTTPS listener serves (the same object while they do not change). */
  readonly tls: TlsSnapshot | null;
}

/** ApplyResult says whether a snapshot now serves. */
export type ApplyResult = { readonly ok: true; readonly generation: number } | { readonly ok: false; readonly error: WireError };

/** PoolSettings are the WorkerConfig fields that shape upstream pools. */
export type PoolSettings = Pick<
  WorkerConfig,
  | 'upstreamConnectTimeoutMs'
  | 'upstreamResponseTimeoutMs'
  | 'upstreamIdleTimeoutMs'
  | 'upstreamKeepAliveTimeoutMs'
  | 'upstreamMaxConnections'
>;

/** PoolFactory creates the pool of the endpoint `address:port` (tests inject failures). */
export type PoolFactory = (address: string, port: number, settings: UpstreamSettings) => UpstreamPool;

/** WorkerStateOptions configures a WorkerState. */
export interface WorkerStateOptions {
  readonly config: PoolSettings;
  readonly createPool?: PoolFactory;
  /** Where requests are counted; without it no route gets counters. */
  readonly stats?: WorkerStats;
}

/** upstreamSettings maps the worker's configuration to the upstream client's settings. */
export function upstreamSettings(c: PoolSettings): UpstreamSettings {
  return Object.freeze({
    connectTimeoutMs: c.upstreamConnectTimeoutMs,
    responseTimeoutMs: c.upstreamResponseTimeoutMs,
    idleTimeoutMs: c.upstreamIdleTimeoutMs,
    keepAliveTimeoutMs: c.upstreamKeepAliveTimeoutMs,
    maxConnections: c.upstreamMaxConnections,
  });
}

/**
 * WorkerState holds the current RoutingState and the upstream Pools, keyed by `ip:port` so a
 * Pool (and its warm keep-alive connections) survives every snapshot that keeps the endpoint.
 */
export class WorkerState {
  #current: RoutingState;
  #pools = new Map<string, UpstreamPool>();
  /** The overrides of the current snapshot; an endpoints delta keeps them. */
  #overrides: Overrides = NO_OVERRIDES;
  readonly #settings: UpstreamSettings;
  readonly #createPool: PoolFactory;
  readonly #stats: WorkerStats | undefined;

  constructor(options: WorkerStateOptions) {
    this.#settings = upstreamSettings(options.config);
    if (options.createPool !== undefined) this.#createPool = options.createPool;
    else {
      // One client per worker: its timer and its read buffer serve every pool.
      const client = new UpstreamClient(this.#settings);
      this.#createPool = (address, port) => client.pool(address, port);
    }
    this.#stats = options.stats;
    this.#current = { generation: 0, router: createRouter(EMPTY_TABLE), backends: new Map(), counters: new Map(), tls: null };
  }

  /** current is the state every new request uses. */
  get current(): RoutingState {
    return this.#current;
  }

  /** generation is the generation of the current state (0 before any snapshot). */
  get generation(): number {
    return this.#current.generation;
  }

  /** poolCount is the number of upstream Pools held (one per distinct endpoint). */
  get poolCount(): number {
    return this.#pools.size;
  }

  /**
   * apply decodes snapshot bytes and swaps them in. On failure the previous state keeps
   * serving and the error (ING_ERR_SNAPSHOT_DECODE, _VERSION or _BUILD) is returned.
   */
  apply(bytes: Uint8Array): ApplyResult {
    let snapshot: RoutingSnapshot;
    try {
      snapshot = decodeSnapshot(bytes);
    } catch (err) {
      return { ok: false, error: toWireError(err, 'ING_ERR_SNAPSHOT_DECODE') };
    }
    return this.applySnapshot(snapshot);
  }

  /** applySnapshot builds and swaps in an already decoded snapshot (see apply). */
  applySnapshot(snapshot: RoutingSnapshot): ApplyResult {
    const pools = new Map<string, UpstreamPool>();
    let next: RoutingState;
    try {
      next = this.#build(snapshot, pools);
    } catch (err) {
      for (const [key, pool] of pools) if (!this.#pools.has(key)) closeQuietly(pool);
      const cause = err instanceof IngressError ? err : new IngressError('ING_ERR_SNAPSHOT_BUILD', `cannot build routing state: ${messageOf(err)}`, { cause: err });
      return { ok: false, error: toWireError(cause, 'ING_ERR_SNAPSHOT_BUILD') };
    }
    const previous = this.#pools;
    this.#current = next;
    this.#pools = pools;
    this.#overrides = snapshot.overrides ?? NO_OVERRIDES;
    // close(), not destroy(): requests already dispatched to a vanished endpoint finish.
    for (const [key, pool] of previous) if (!pools.has(key)) closeQuietly(pool);
    return { ok: true, generation: next.generation };
  }

  /** applyEndpoints decodes EndpointsDelta bytes and applies them (see applyEndpointsDelta). */
  applyEndpoints(bytes: Uint8Array): ApplyResult {
    let delta: EndpointsDelta;
    try {
      delta = decodeEndpointsDelta(bytes);
    } catch (err) {
      return { ok: false, error: toWireError(err, 'ING_ERR_SNAPSHOT_DECODE') };
    }
    return this.applyEndpointsDelta(delta);
  }

  /**
   * applyEndpointsDelta replaces the endpoints of the named backends and swaps in the result
   * as generation `delta.generation`: the router, the route counters and every other backend
   * are shared with the current state. Only a delta whose base is exactly the current
   * generation and whose backends all exist applies; otherwise, or when building fails, the
   * current state keeps serving and the error says why (the primary then sends a full snapshot).
   */
  applyEndpointsDelta(delta: EndpointsDelta): ApplyResult {
    const current = this.#current;
    if (delta.base !== current.generation || delta.generation <= current.generation)
      return { ok: false, error: { code: 'ING_ERR_SNAPSHOT_BUILD', message: `endpoints delta for generation ${delta.base} → ${delta.generation}, but generation ${current.generation} serves` } };
    const added = new Map<string, UpstreamPool>();
    const backends = new Map(current.backends);
    const dropped = new Set<string>();
    try {
      for (const c of delta.backends) {
        const old = current.backends.get(c.id);
        if (old === undefined) throw new IngressError('ING_ERR_SNAPSHOT_BUILD', `endpoints delta names unknown backend ${c.id}`);
        for (const ep of old.balancer.list()) dropped.add(ep.key);
        backends.set(c.id, this.#backend(c.id, c.endpoints, this.#overrides, added, old.protocol));
      }
    } catch (err) {
      for (const [key, pool] of added) if (!this.#pools.has(key)) closeQuietly(pool);
      const cause = err instanceof IngressError ? err : new IngressError('ING_ERR_SNAPSHOT_BUILD', `cannot apply endpoints delta: ${messageOf(err)}`, { cause: err });
      return { ok: false, error: toWireError(cause, 'ING_ERR_SNAPSHOT_BUILD') };
    }
    const pools = new Map(this.#pools);
    for (const [key, pool] of added) pools.set(key, pool);
    // An endpoint the changed backends no longer list may still serve another backend.
    for (const c of backends.values()) {
      if (dropped.size === 0) break;
      for (const ep of c.balancer.list()) dropped.delete(ep.key);
    }
    for (const key of dropped) pools.delete(key);
    const previous = this.#pools;
    this.#current = { generation: delta.generation, router: current.router, backends, counters: current.counters, tls: current.tls };
    this.#pools = pools;
    for (const key of dropped) {
      const pool = previous.get(key);
      if (pool !== undefined) closeQuietly(pool);
    }
    return { ok: true, generation: delta.generation };
  }

  /** close closes every Pool (in-flight requests finish) and resets to the empty table. */
  async close(): Promise<void> {
    const pools = [...this.#pools.values()];
    this.#pools = new Map();
    this.#current = { generation: this.#current.generation, router: createRouter(EMPTY_TABLE), backends: new Map(), counters: new Map(), tls: this.#current.tls };
    await Promise.allSettled(pools.map((p) => p.close()));
  }

  #build(snapshot: RoutingSnapshot, pools: Map<string, UpstreamPool>): RoutingState {
    const table = snapshot.table;
    const overrides = snapshot.overrides ?? NO_OVERRIDES;
    // A route change leaves almost every backend as it was: keep those runtimes (and their
    // balancer positions) instead of building 10,000 balancers again. Overrides apply to all.
    const previous = sameOverrides(overrides, this.#overrides) ? this.#current.backends : undefined;
    const backends = new Map<string, BackendRuntime>();
    for (const backend of table.backends) {
      if (typeof backend.id !== 'string' || !Array.isArray(backend.endpoints))
        throw new IngressError('ING_ERR_SNAPSHOT_BUILD', 'backend without id or endpoints');
      const old = previous?.get(backend.id);
      const kept = old === undefined ? undefined : old.balancer.list();
      if (old !== undefined && kept !== undefined && old.protocol === backend.protocol && old.balancer.name === balancerName(backend.loadBalancer) && sameEndpoints(kept, backend.endpoints)) {
        for (const ep of kept) pools.set(ep.key, ep.pool);
        backends.set(backend.id, old);
      } else backends.set(backend.id, this.#backend(backend.id, backend.endpoints, overrides, pools, backend.protocol, backend.loadBalancer));
    }
    // Keep the current TLS object when the certificates are the same, so the listener sees no change.
    const tls = sameTls(snapshot.tls, this.#current.tls) ? this.#current.tls : snapshot.tls;
    return { generation: snapshot.generation, router: createRouter(table), backends, counters: this.#routeCounters(table), tls };
  }

  /**
   * #backend builds one backend's balancer. Each endpoint's Pool comes from `pools`, else from
   * the current Pools, else is created; either way it is recorded in `pools`.
   */
  #backend(id: string, list: readonly Endpoint[], overrides: Overrides, pools: Map<string, UpstreamPool>, protocol?: 'h2c' | 'h2', loadBalancer?: LoadBalancerName): BackendRuntime {
    const endpoints: UpstreamEndpoint[] = [];
    for (const ep of list) {
      if (typeof ep.address !== 'string' || !Number.isInteger(ep.port) || ep.port < 1 || ep.port > 65535)
        throw new IngressError('ING_ERR_SNAPSHOT_BUILD', `backend ${id} has an invalid endpoint`);
      const key = endpointKey(ep.address, ep.port);
      let pool = pools.get(key) ?? this.#pools.get(key);
      if (pool === undefined) pool = this.#createPool(ep.address, ep.port, this.#settings);
      pools.set(key, pool);
      endpoints.push({ ...ep, key, pool });
    }
    // load-balance: ewma (issue 15 group 5, balance/ewma.ts); the clock is the worker's, in seconds.
    const balancer =
      loadBalancer === 'ewma'
        ? new EwmaBalancer<UpstreamEndpoint>({ backendId: id, endpoints, overrides, now: () => performance.now() / 1000 })
        : new RoundRobinBalancer<UpstreamEndpoint>({ backendId: id, endpoints, overrides });
    return protocol === undefined ? { id, balancer, size: endpoints.length } : { id, balancer, size: endpoints.length, protocol };
  }

  /** #routeCounters gives every route the counters of its Ingress → Service pair. */
  #routeCounters(table: RoutingTable): Map<Route, RouteCounters> {
    const counters = new Map<Route, RouteCounters>();
    const stats = this.#stats;
    if (stats === undefined) return counters;
    const services = new Map<string, string>(table.backends.map((c) => [c.id, c.service]));
    const add = (r: Route, host: string): void => {
      counters.set(r, stats.counters(r.source, services.get(r.backend) ?? r.backend, host, r.path));
    };
    for (const vh of table.hosts) for (const r of vh.routes) add(r, vh.host);
    if (table.defaultBackend !== null) add(table.defaultBackend, '');
    stats.retain(new Set(counters.values()));
    return counters;
  }
}

/** balancerName is the Balancer name a snapshot's load balancer builds. */
function balancerName(name: LoadBalancerName | undefined): string {
  return name === 'ewma' ? 'ewma' : 'round-robin';
}

/** sameEndpoints says whether a snapshot's endpoint list is the one a balancer was built from. */
function sameEndpoints(built: readonly UpstreamEndpoint[], list: readonly Endpoint[]): boolean {
  if (built.length !== list.length) return false;
  for (let i = 0; i < list.length; i++) {
    const a = built[i] as UpstreamEndpoint;
    const b = list[i] as Endpoint;
    if (a.address !== b.address || a.port !== b.port || a.weight !== b.weight || a.ready !== b.ready || a.terminating !== b.terminating || a.zone !== b.zone) return false;
  }
  return true;
}

/** sameTls says whether two TLS parts name the same certificates for the same names. */
function sameTls(a: TlsSnapshot | null, b: TlsSnapshot | null): boolean {
  if (a === b) return true;
  if (a === null || b === null) return false;
  return a.defaultCertificate.id === b.defaultCertificate.id && JSON.stringify([a.certificates, a.serverNames]) === JSON.stringify([b.certificates, b.serverNames]);
}

function sameOverrides(a: Overrides, b: Overrides): boolean {
  if (a === b) return true;
  if (a.drained.length !== b.drained.length || a.weights.length !== b.weights.length) return false;
  return a.drained.every((k, i) => k === b.drained[i]) && a.weights.every(([k, w], i) => k === b.weights[i]?.[0] && w === b.weights[i]?.[1]);
}

function closeQuietly(pool: UpstreamPool): void {
  pool.close().catch(() => undefined);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function toWireError(err: unknown, fallback: string): WireError {
  if (err instanceof IngressError) return { code: err.code, message: err.message };
  return { code: fallback, message: messageOf(err) };
}
