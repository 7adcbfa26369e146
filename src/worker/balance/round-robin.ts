/**
 * RoundRobinBalancer: plain rotation for equal weights, smooth weighted round-robin
 * (the nginx algorithm) for unequal ones.
 */
import { endpointKey } from '../../shared/keys.js';
import { NO_OVERRIDES, type Endpoint, type Overrides } from '../../shared/snapshot.js';
import { hash32, rendezvousIndex } from '../../shared/upstream-hash.js';
import type { Balancer } from './balancer.js';

interface OverrideIndex {
  readonly drained: ReadonlySet<string>;
  readonly weights: ReadonlyMap<string, number>;
}

/**
 * Every balancer of a snapshot gets the same Overrides object: index it once, not once per
 * backend (10,000 backends would otherwise each hold a Set and a Map of the same keys).
 */
const overrideIndexes = new WeakMap<Overrides, OverrideIndex>();

function indexOverrides(o: Overrides): OverrideIndex {
  let index = overrideIndexes.get(o);
  if (index === undefined) {
    index = { drained: new Set(o.drained), weights: new Map(o.weights) };
    overrideIndexes.set(o, index);
  }
  return index;
}

/** RoundRobinOptions configures a RoundRobinBalancer. */
export interface RoundRobinOptions<E extends Endpoint> {
  /** Backend id; with `overrides`, it forms the `backendId|ip:port` override keys. */
  readonly backendId?: string;
  readonly endpoints?: readonly E[];
  /** Operator overrides from the snapshot: drained endpoints and weight overrides. */
  readonly overrides?: Overrides;
}

/**
 * RoundRobinBalancer implements Balancer.
 *
 * Eligible endpoints: weight > 0 (after overrides) and not drained; among those, the ready
 * ones, or, only when no ready one exists, the terminating ones (Kubernetes keeps serving
 * terminating endpoints as a last resort: KEP-1669). With equal weights it rotates; with
 * unequal weights it uses smooth weighted round-robin, which spreads the heavier endpoint's
 * turns out instead of bunching them (a,a,b,a rather than a,a,a,b for 3:1).
 */
export class RoundRobinBalancer<E extends Endpoint = Endpoint> implements Balancer<E> {
  readonly name = 'round-robin';
  readonly #prefix: string;
  readonly #drained: ReadonlySet<string>;
  readonly #weights: ReadonlyMap<string, number>;
  readonly #all = new Map<string, E>();
  #eligible: E[] = [];
  /** hash32 of each eligible endpoint's `ip:port`, for selectByHash; built on first use. */
  #nodeHashes: Uint32Array | null = null;
  #weightOf: number[] = [];
  #current: number[] = [];
  #totalWeight = 0;
  #equal = true;
  #next = 0;

  constructor(options: RoundRobinOptions<E> = {}) {
    this.#prefix = options.backendId === undefined ? '' : `${options.backendId}|`;
    const index = indexOverrides(options.overrides ?? NO_OVERRIDES);
    this.#drained = index.drained;
    this.#weights = index.weights;
    for (const ep of options.endpoints ?? []) this.#all.set(endpointKey(ep.address, ep.port), ep);
    this.#rebuild();
  }

  select(): E | null {
    const eligible = this.#eligible;
    const n = eligible.length;
    if (n === 0) return null;
    if (this.#equal) {
      const i = this.#next;
      this.#next = i + 1 === n ? 0 : i + 1;
      return eligible[i] as E;
    }
    // Smooth weighted round-robin: raise every current weight by its weight, take the
    // largest, lower the winner by the total.
    const current = this.#current;
    const weights = this.#weightOf;
    let best = 0;
    let bestValue = -Infinity;
    for (let i = 0; i < n; i++) {
      const v = (current[i] as number) + (weights[i] as number);
      current[i] = v;
      if (v > bestValue) {
        bestValue = v;
        best = i;
      }
    }
    current[best] = bestValue - this.#totalWeight;
    return eligible[best] as E;
  }

  selectByHash(keyHash: number): E | null {
    const eligible = this.#eligible;
    if (eligible.length === 0) return null;
    const nodes = (this.#nodeHashes ??= Uint32Array.from(eligible, (ep) => hash32(endpointKey(ep.address, ep.port))));
    return eligible[rendezvousIndex(keyHash, nodes)] as E;
  }

  add(endpoint: E): void {
    this.#all.set(endpointKey(endpoint.address, endpoint.port), endpoint);
    this.#rebuild();
  }

  remove(key: string): void {
    if (this.#all.delete(key)) this.#rebuild();
  }

  eligible(): readonly E[] {
    return this.#eligible;
  }

  list(): readonly E[] {
    return [...this.#all.values()];
  }

  /** effectiveWeight applies the overrides: drained → 0, else the override, else the endpoint's own. */
  #effectiveWeight(key: string, ep: E): number {
    const k = this.#prefix + key;
    if (this.#drained.has(k)) return 0;
    const w = this.#weights.get(k) ?? ep.weight ?? 1;
    return Number.isFinite(w) && w > 0 ? w : 0;
  }

  #rebuild(): void {
    const ready: [E, number][] = [];
    const terminating: [E, number][] = [];
    for (const [key, ep] of this.#all) {
      const w = this.#effectiveWeight(key, ep);
      if (w <= 0) continue;
      if (ep.ready !== false && ep.terminating !== true) ready.push([ep, w]);
      else if (ep.terminating === true) terminating.push([ep, w]);
    }
    const chosen = ready.length > 0 ? ready : terminating;
    this.#eligible = chosen.map((c) => c[0]);
    this.#nodeHashes = null;
    this.#weightOf = chosen.map((c) => c[1]);
    this.#current = chosen.map(() => 0);
    this.#totalWeight = this.#weightOf.reduce((a, b) => a + b, 0);
    this.#equal = this.#weightOf.every((w) => w === this.#weightOf[0]);
    if (this.#next >= this.#eligible.length) this.#next = 0;
  }
}
