/**
 * A supervised list/watch loop for one resource collection. client-node's informer (2.0 as
 * 1.4) stops for good after any non-410 error or failed list, never asks for bookmarks or a
 * server-side timeout, has no list timeout, turns a throwing handler into an unhandled
 * rejection, and may still send a watch after stop(). So this is our own informer on
 * client-node's `Watch`: list → watch from the list's resourceVersion (bookmarks on, a
 * server-side timeout of 5–10 min) → on 410 relist; any error → capped exponential backoff with
 * jitter; a stream that ends at once counts as an error, so a server that closes every watch
 * cannot make a tight loop; handlers never throw into the loop. client-node 2's `Watch` ends a
 * stream with no byte for 30 s itself, which the WatchClient reports as a clean end
 * (resources.ts); the watchdog here stays as a backstop for clients without such a timer.
 */
import type { Logger } from 'pino';

/** RawObject is an API object as decoded JSON. */
export type RawObject = Readonly<Record<string, unknown>> & { readonly metadata?: Readonly<Record<string, unknown>> };

/** ListResult is one complete list of a collection. */
export interface ListResult {
  readonly items: readonly RawObject[];
  readonly resourceVersion: string;
}

/** WatchHandle ends one watch request. */
export interface WatchHandle {
  abort(): void;
}

/**
 * WatchClient is the API access of one collection (path, selectors already bound). `watch`
 * calls `onEvent` for each event and `onDone` exactly once when the stream ends (null for a
 * clean end); it must not throw.
 */
export interface WatchClient {
  list(): Promise<ListResult>;
  watch(query: Readonly<Record<string, string>>, onEvent: (type: string, object: RawObject) => void, onDone: (err: unknown) => void): Promise<WatchHandle>;
}

/** WatchHandlers receive the objects; a thrown error is logged and the event skipped. */
export interface WatchHandlers {
  upsert(obj: RawObject): void;
  delete(obj: RawObject): void;
  /** synced is called after every complete list has been applied. */
  synced?(): void;
  /** health reports whether the API answered the last attempt. */
  health?(ok: boolean, err?: unknown): void;
}

/** ResourceWatcherOptions configures a ResourceWatcher. */
export interface ResourceWatcherOptions {
  /** Names the collection in logs, e.g. `ingresses` or `services in team-a`. */
  readonly name: string;
  readonly client: WatchClient;
  readonly handlers: WatchHandlers;
  readonly log: Logger;
  /** First retry delay after an error (default 500 ms); doubles per failure. */
  readonly initialBackoffMs?: number;
  /** Longest retry delay (default 30 s). */
  readonly maxBackoffMs?: number;
  /** Re-watch when no event (bookmarks included) arrived for this long (default 5 min; client-node 2 ends a stream quiet for 30 s first). */
  readonly watchdogMs?: number;
  /** Server-side watch timeout, picked per watch between this and twice this (default 300 s, as client-go). */
  readonly minWatchTimeoutSeconds?: number;
  /** Give up on a list that has not answered after this long (default 60 s). */
  readonly listTimeoutMs?: number;
  readonly random?: () => number;
}

/** Why one watch request ended without an error. */
type WatchEnd = 'closed' | 'expired' | 'silent' | 'stopped';

/** A watch that ends this soon with no event counts as a failure, so a server that closes at once cannot make a tight loop. */
const MIN_HEALTHY_WATCH_MS = 1000;

/** backoffDelayMs is the wait before retry number `failures` (1-based): capped doubling, plus up to 20% jitter. */
export function backoffDelayMs(failures: number, initialMs: number, maxMs: number, random: number): number {
  const base = Math.min(maxMs, initialMs * 2 ** Math.max(0, failures - 1));
  return Math.min(maxMs, Math.round(base * (1 + 0.2 * random)));
}

/** isGone tells whether an error or ERROR event object means 410 Gone (resourceVersion too old). */
export function isGone(err: unknown): boolean {
  const e = err as { statusCode?: unknown; code?: unknown } | null;
  return e?.statusCode === 410 || e?.code === 410;
}

/** objectKeyOf is `namespace/name` (or `name`) of a raw object. */
function objectKeyOf(obj: RawObject): string {
  const ns = obj.metadata?.namespace;
  const name = String(obj.metadata?.name ?? '');
  return typeof ns === 'string' && ns !== '' ? `${ns}/${name}` : name;
}

/**
 * ResourceWatcher keeps one collection in step with the API. It remembers the
 * resourceVersion of every object it passed on, so a relist turns into the right upserts
 * and deletes, and an unchanged object is not passed on twice.
 */
export class ResourceWatcher {
  readonly name: string;
  readonly #client: WatchClient;
  readonly #handlers: WatchHandlers;
  readonly #log: Logger;
  readonly #initialBackoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #watchdogMs: number;
  readonly #minWatchTimeoutSeconds: number;
  readonly #listTimeoutMs: number;
  readonly #random: () => number;
  /** key → last resourceVersion passed on. */
  readonly #known = new Map<string, string | undefined>();
  #resourceVersion: string | undefined;
  #stopped = false;
  #loop: Promise<void> | undefined;
  #cancel: (() => void) | undefined;
  #lists = 0;

  constructor(opts: ResourceWatcherOptions) {
    this.name = opts.name;
    this.#client = opts.client;
    this.#handlers = opts.handlers;
    this.#log = opts.log;
    this.#initialBackoffMs = opts.initialBackoffMs ?? 500;
    this.#maxBackoffMs = opts.maxBackoffMs ?? 30_000;
    this.#watchdogMs = opts.watchdogMs ?? 300_000;
    this.#minWatchTimeoutSeconds = opts.minWatchTimeoutSeconds ?? 300;
    this.#listTimeoutMs = opts.listTimeoutMs ?? 60_000;
    this.#random = opts.random ?? Math.random;
    if (!(this.#initialBackoffMs > 0 && this.#maxBackoffMs >= this.#initialBackoffMs && this.#watchdogMs > 0))
      throw new RangeError('ResourceWatcher: backoff and watchdog durations must be positive, maxBackoffMs >= initialBackoffMs');
  }

  /** lists is how many complete lists were applied (1 after the first sync; more after relists). */
  get lists(): number {
    return this.#lists;
  }

  /** start runs the loop in the background; `synced` handlers report progress. */
  start(): void {
    this.#loop ??= this.#run();
  }

  /** stop ends the current request and the loop; no handler is called once it resolves. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#cancel?.();
    await this.#loop;
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#stopped) {
      try {
        if (this.#resourceVersion === undefined) await this.#list();
        if (this.#stopped) break;
        const startedMs = performance.now();
        const { end, events } = await this.#watchOnce(this.#resourceVersion as string);
        if (end === 'expired') {
          this.#log.info({ resource: this.name }, 'resourceVersion expired: relisting');
          this.#resourceVersion = undefined;
          failures = 0;
          continue;
        }
        if (end === 'silent') this.#log.warn({ resource: this.name, watchdogMs: this.#watchdogMs }, 'watch silent too long: re-watching');
        if (end === 'closed' && events === 0 && performance.now() - startedMs < MIN_HEALTHY_WATCH_MS) {
          failures++;
          await this.#sleep(backoffDelayMs(failures, this.#initialBackoffMs, this.#maxBackoffMs, this.#random()));
        } else failures = 0;
      } catch (err) {
        if (this.#stopped) break;
        failures++;
        if (isGone(err)) this.#resourceVersion = undefined;
        const delayMs = backoffDelayMs(failures, this.#initialBackoffMs, this.#maxBackoffMs, this.#random());
        this.#log.debug({ resource: this.name, err, failures, delayMs }, 'list/watch failed: retrying');
        this.#call('health', () => this.#handlers.health?.(false, err));
        await this.#sleep(delayMs);
      }
    }
  }

  async #list(): Promise<void> {
    const result = await this.#bounded(this.#client.list());
    if (result === undefined || this.#stopped) return;
    this.#call('health', () => this.#handlers.health?.(true));
    const seen = new Set<string>();
    for (const item of result.items) {
      const key = objectKeyOf(item);
      seen.add(key);
      this.#apply('ADDED', item);
    }
    for (const [key] of [...this.#known]) {
      if (seen.has(key)) continue;
      const slash = key.indexOf('/');
      const metadata = slash < 0 ? { name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
      this.#apply('DELETED', { metadata });
    }
    this.#resourceVersion = result.resourceVersion;
    this.#lists++;
    this.#call('synced', () => this.#handlers.synced?.());
  }

  /** #watchOnce runs one watch request to its end; it rejects on a transport or API error. */
  #watchOnce(resourceVersion: string): Promise<{ end: WatchEnd; events: number }> {
    return new Promise((resolve, reject) => {
      let events = 0;
      let settled = false;
      let handle: WatchHandle | undefined;
      let expired = false;
      let failed: unknown;
      const finish = (end: WatchEnd | undefined, err?: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(watchdog);
        this.#cancel = undefined;
        handle?.abort();
        if (end === undefined) reject(err);
        else resolve({ end, events });
      };
      let watchdog = setTimeout(() => finish('silent'), this.#watchdogMs);
      this.#cancel = () => finish('stopped');
      const timeoutSeconds = Math.round(this.#minWatchTimeoutSeconds * (1 + this.#random()));
      const query = { resourceVersion, allowWatchBookmarks: 'true', timeoutSeconds: String(timeoutSeconds) };
      const onEvent = (type: string, object: RawObject): void => {
        if (settled) return;
        events++;
        clearTimeout(watchdog);
        watchdog = setTimeout(() => finish('silent'), this.#watchdogMs);
        if (type === 'ERROR') {
          // The stream ends right after; 410 means relist, anything else is a failure.
          if (isGone(object)) expired = true;
          else failed = Object.assign(new Error(`watch ERROR event: ${String(object.message ?? 'unknown')}`), { code: object.code });
          return;
        }
        if (type === 'BOOKMARK') {
          const rv = object.metadata?.resourceVersion;
          if (typeof rv === 'string') this.#resourceVersion = rv;
          return;
        }
        if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') this.#apply(type, object);
      };
      const onDone = (err: unknown): void => {
        if (settled) return;
        if (expired || isGone(err)) finish('expired');
        else if (err !== null && err !== undefined) finish(undefined, err);
        else if (failed !== undefined) finish(undefined, failed);
        else finish('closed');
      };
      this.#client.watch(query, onEvent, onDone).then(
        (h) => {
          handle = h;
          if (settled) h.abort();
          else this.#call('health', () => this.#handlers.health?.(true));
        },
        (err: unknown) => finish(undefined, err),
      );
    });
  }

  #apply(type: 'ADDED' | 'MODIFIED' | 'DELETED', object: RawObject): void {
    const key = objectKeyOf(object);
    const rv = object.metadata?.resourceVersion;
    if (type === 'DELETED') {
      if (this.#known.delete(key)) this.#call('delete', () => this.#handlers.delete(object), key);
    } else if (!(this.#known.has(key) && rv !== undefined && this.#known.get(key) === rv)) {
      this.#known.set(key, typeof rv === 'string' ? rv : undefined);
      this.#call('upsert', () => this.#handlers.upsert(object), key);
    }
    if (typeof rv === 'string' && rv !== '') this.#resourceVersion = rv;
  }

  /** #call runs a handler; a throw is logged (ING_ERR_K8S_HANDLER) and never reaches the loop. */
  #call(what: string, fn: () => void, object?: string): void {
    if (this.#stopped) return;
    try {
      fn();
    } catch (err) {
      this.#log.error({ err, code: 'ING_ERR_K8S_HANDLER', resource: this.name, handler: what, object }, 'watch handler threw');
    }
  }

  /** #bounded waits for `p`, but rejects after the list timeout and resolves undefined on stop(). */
  #bounded<T>(p: Promise<T>): Promise<T | undefined> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`list of ${this.name} timed out after ${this.#listTimeoutMs} ms`)), this.#listTimeoutMs);
      this.#cancel = () => {
        clearTimeout(timer);
        resolve(undefined);
      };
      p.then(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#cancel = () => done();
    });
  }
}
