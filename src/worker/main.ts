/**
 * The worker's composition root, run by node:cluster
 * (`cluster.setupPrimary({ exec: '<dist>/worker/main.js', serialization: 'advanced' })`).
 *
 * Protocol (shared/messages.ts): say `hello` once the message listener is attached (an ESM
 * entry loads asynchronously, and IPC messages that arrive before the listener exists are
 * lost), wait for `init`, apply its snapshot, listen, say `listening`; then `snapshot` →
 * `ack` or `reject`; `drain` → drain and exit 0. Losing the primary (IPC disconnect) exits at
 * once: node:cluster workers cannot outlive it anyway.
 */
import { pathToFileURL } from 'node:url';
import { IngressError, type WireError } from '../shared/errors.js';
import { formatListenFailure, probeListen } from '../shared/listen-probe.js';
import { isPrimaryMessage, type InitMessage, type WorkerConfig, type WorkerMessage } from '../shared/messages.js';
import { createWorkerLogger, type Logger } from './log.js';
import { createProxyServer, type ProxyServer } from './proxy/server.js';
import { ProcessSampler } from '../shared/process-stats.js';
import { AccessLog } from './access-log.js';
import { WorkerCache } from './cache/worker-cache.js';
import { WorkerState } from './state.js';
import { WorkerStats } from './stats.js';
import { RATE_SHARE_INTERVAL_MS } from '../shared/rate-limit.js';
import { RateLimiter } from './ratelimit/limiter.js';
import { BasicAuthStore } from './auth/basic-auth.js';

/** WorkerProcess is the part of `process` the worker uses (tests may pass a fake). */
export interface WorkerProcess {
  send?: ((message: WorkerMessage, callback?: (err: Error | null) => void) => boolean) | undefined;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'disconnect' | 'SIGINT' | 'SIGTERM', listener: () => void): unknown;
  on(event: 'uncaughtException', listener: (err: Error) => void): unknown;
  on(event: 'unhandledRejection', listener: (reason: unknown) => void): unknown;
  exit(code: number): never;
}

/** How often the worker flushes its statistics to the primary. */
const STATS_FLUSH_MS = 1000;

/** How often expired cache entries are swept (the original design's clean_expired; docs/architecture.md). */
const CACHE_SWEEP_MS = 10_000;

/** How long a goodbye message (`fatal`) may take before the worker exits anyway. */
const GOODBYE_TIMEOUT_MS = 1000;

/**
 * startWorker wires the worker to its primary. It returns immediately; everything else
 * happens on messages.
 */
export function startWorker(proc: WorkerProcess = process as unknown as WorkerProcess): void {
  let log: Logger | null = null;
  let state: WorkerState | null = null;
  let server: ProxyServer | null = null;
  let cache: WorkerCache | null = null;
  let limiter: RateLimiter | null = null;
  /** The basic-auth credentials (docs/annotations.md "Basic authentication"): they may come right after init, before the proxy exists. */
  const basicAuth = new BasicAuthStore();
  let drainTimeoutMs = 0;
  let leaving = false;

  const send = (message: WorkerMessage): void => {
    proc.send?.(message);
  };

  /** exitWith sends `fatal` (when given), waits for it to leave, and exits. */
  const exitWith = (code: number, error?: WireError): void => {
    if (leaving) return;
    leaving = true;
    server?.close(); // idempotent; stops accepting at once on the fatal paths
    if (error === undefined || proc.send === undefined) {
      proc.exit(code);
      return;
    }
    const timer = setTimeout(() => proc.exit(code), GOODBYE_TIMEOUT_MS);
    proc.send({ type: 'fatal', error }, () => {
      clearTimeout(timer);
      proc.exit(code);
    });
  };

  const onInit = async (m: InitMessage): Promise<void> => {
    log = createWorkerLogger({ workerId: m.workerId, level: m.config.logLevel, format: m.config.logFormat, fd: m.config.logFd });
    drainTimeoutMs = m.config.drainTimeoutMs;
    // Requests are counted in memory and flushed once a second: no IPC per request.
    const stats = m.config.metrics ? new WorkerStats(m.config.metricsIngressNginxCompat === true ? { path: m.config.metricsIngressNginxPath === true } : null) : undefined;
    const accessLog = new AccessLog(log.child({ component: 'access' }), m.config.accessLogEvery, m.workerId);
    state = new WorkerState({ config: m.config, ...(stats === undefined ? {} : { stats }) });
    const responseCache = new WorkerCache({ maxBytes: m.config.cacheMaxBytes, maxObjectBytes: m.config.cacheMaxObjectBytes, lockTimeoutMs: m.config.cacheLockTimeoutMs });
    responseCache.onInvalidate = (keys) => send({ type: 'cache-invalidate', keys });
    cache = responseCache;
    const applied = state.apply(m.snapshot);
    if (!applied.ok) {
      // Keep the empty table (every request 404) rather than refuse to start; say why.
      log.error({ code: applied.error.code, error: applied.error.message }, 'init snapshot rejected');
      send({ type: 'reject', current: state.generation, error: applied.error });
    }
    try {
      const rateLimiter = new RateLimiter({ workers: m.config.rateLimit?.workers ?? 1, now: () => performance.now() });
      limiter = rateLimiter;
      const proxy = createProxyServer({ state, config: m.config, log, accessLog, cache: responseCache, rateLimiter, basicAuth, ...(stats === undefined ? {} : { stats }) });
      server = proxy;
      proxy.applyTls(state.current.tls);
      const ports = await proxy.listen();
      log.info({ port: ports.http, httpsPort: ports.https, generation: state.generation, node: process.version }, 'listening');
      send({ type: 'listening', generation: state.generation, node: process.version });
      // Pod-wide rate limits (docs/rate-limits.md): report the demand per key, get the shares back.
      let rateTicks = 0;
      setInterval(() => {
        const counts = rateLimiter.takeDemand();
        if (counts !== null) send({ type: 'rate-demand', counts });
        if (++rateTicks % 10 === 0) rateLimiter.sweep();
      }, RATE_SHARE_INTERVAL_MS).unref();
      const sampler = new ProcessSampler();
      const empty = new WorkerStats();
      setInterval(() => {
        const delta = (stats ?? empty).flush(proxy.inFlight(), sampler.sample(), proxy.websockets());
        send({ type: 'stats', delta: { ...delta, cache: responseCache.flush() } });
      }, STATS_FLUSH_MS).unref();
      setInterval(() => {
        const n = responseCache.sweep();
        if (n > 0) log?.debug({ expired: n }, 'cache sweep');
      }, CACHE_SWEEP_MS).unref();
    } catch (err) {
      let error = toWire(err, 'ING_ERR_LISTEN_FAILED');
      if (error.code === 'ING_ERR_LISTEN_FAILED') error = { code: error.code, message: await withListenReason(error.message, m.config) };
      log.fatal({ err, code: error.code, reason: error.message }, 'cannot start the proxy');
      exitWith(1, error);
    }
  };

  let draining = false;
  const onDrain = async (): Promise<void> => {
    if (draining) return;
    draining = true;
    if (server !== null) {
      log?.info({ inFlight: server.inFlight(), drainTimeoutMs }, 'draining');
      await server.drain(drainTimeoutMs);
    }
    // Pools hold only idle upstream sockets now; exiting closes them. Do not wait on
    // pool.close(): a stuck upstream request must not keep a drained worker alive.
    void state?.close();
    exitWith(0);
  };

  proc.on('message', (message: unknown) => {
    if (!isPrimaryMessage(message) || leaving) return;
    switch (message.type) {
      case 'init':
        if (state === null) void onInit(message);
        return;
      case 'snapshot': {
        if (state === null) return; // no init yet: the init carries the current snapshot
        const r = state.apply(message.snapshot);
        if (r.ok) {
          server?.applyTls(state.current.tls);
          send({ type: 'ack', generation: r.generation });
        }
        else {
          log?.warn({ code: r.error.code, error: r.error.message, current: state.generation }, 'snapshot rejected');
          send({ type: 'reject', current: state.generation, error: r.error });
        }
        return;
      }
      case 'endpoints': {
        if (state === null) return; // no init yet: the init carries the current endpoints
        const r = state.applyEndpoints(message.delta);
        if (r.ok) send({ type: 'ack', generation: r.generation });
        else {
          log?.warn({ code: r.error.code, error: r.error.message, current: state.generation }, 'endpoints delta rejected');
          send({ type: 'reject', current: state.generation, kind: 'endpoints', error: r.error });
        }
        return;
      }
      case 'drain':
        void onDrain();
        return;
      case 'cache-purge': {
        // Answer even before init (nothing cached yet), so the primary never waits on us for nothing.
        const purged = cache === null ? 0 : cache.purge(message.selector);
        log?.info({ purged, selector: message.selector }, 'cache purge');
        send({ type: 'cache-purged', id: message.id, purged });
        return;
      }
      case 'cache-invalidate':
        cache?.invalidate(message.keys);
        return;
      case 'rate-shares':
        limiter?.setShares(message.shares);
        return;
      case 'basic-auth':
        basicAuth.credentials = message.credentials;
        return;
    }
  });

  proc.on('disconnect', () => exitWith(0));

  // Ctrl-C in a terminal signals the whole process group: the primary turns it into a
  // coordinated drain, so the worker ignores SIGINT rather than dying with requests in flight.
  // A SIGTERM sent to the worker alone drains it like a `drain` message.
  proc.on('SIGINT', () => {});
  proc.on('SIGTERM', () => {
    void onDrain();
  });
  send({ type: 'hello' });

  // Request paths catch their own exceptions (proxy/exchange.ts), so one that reaches here
  // came from outside any request: the process state is unknown, let the primary restart us.
  proc.on('uncaughtException', (err: Error) => {
    log?.error({ err, code: 'ING_ERR_WORKER_UNCAUGHT' }, 'uncaught exception');
    exitWith(1, toWire(err, 'ING_ERR_WORKER_UNCAUGHT'));
  });
  proc.on('unhandledRejection', (reason: unknown) => {
    log?.error({ err: reason, code: 'ING_ERR_WORKER_UNCAUGHT' }, 'unhandled rejection');
  });
}

/**
 * withListenReason adds the OS reason to uWS's bare "cannot listen on ADDR:PORT" (proxy/server.ts
 * and proxy/tls-front.ts, which marks the HTTPS one): it binds that listener once with
 * SO_REUSEPORT, as uWS does, so that beside our sibling workers the probe succeeds and a failure
 * says why (shared/listen-probe.ts).
 */
async function withListenReason(message: string, config: WorkerConfig): Promise<string> {
  const [address, port] = message.includes('(HTTPS)') && config.https !== null ? [config.https.address, config.https.port] : [config.httpAddress, config.httpPort];
  const failure = await probeListen(address, port, { reusePort: true }).catch(() => null);
  return failure === null ? message : `${message}: ${formatListenFailure(failure)}`;
}

function toWire(err: unknown, fallback: string): WireError {
  if (err instanceof IngressError) return { code: err.code, message: err.message };
  return { code: fallback, message: err instanceof Error ? err.message : String(err) };
}

// Run when executed as the node:cluster worker's entry file, not when imported.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) startWorker();
