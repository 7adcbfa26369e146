/**
 * The primary's composition root: configuration → source → compile → broadcast → workers,
 * plus the admin server and the shutdown sequence. It owns no request traffic.
 */
import { trustsEveryone } from '../shared/client-address.js';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { hostname, networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IngressError, type WireError } from '../shared/errors.js';
import { startAdminServer, type AdminServer } from './admin/app.js';
import { generateToken } from './admin/auth.js';
import { loadGuiAssets } from './admin/gui-assets.js';
import { SnapshotBroadcaster } from './broadcast.js';
import { helpText, parseCommandLine, type Config } from './config.js';
import { Controller } from './controller.js';
import type { SelfListeners } from './compile/self-listeners.js';
import { CompileOffload } from './offload/compile-offload.js';
import type { ControlPlaneState } from './metrics/control-plane.js';
import { Observability } from './metrics/observability.js';
import { OverrideStore } from './overrides.js';
import { checkListeners, foreignListeners, sharedPortProblem, type Listener } from './listen-check.js';
import { createPrimaryLogger, type Logger } from './log.js';
import { RebuildScheduler } from './rebuild.js';
import { loadKubeConfig } from './k8s/client.js';
import { KubernetesSource } from './k8s/kubernetes-source.js';
import { electionIdentity } from './k8s/leader-election.js';
import { createStatusPublisher, type StatusPublisher } from './k8s/status-publisher.js';
import { FileSource } from './sources/file-source.js';
import type { Source, SourceUpdate } from './sources/source.js';
import { TlsManager } from './tls/manager.js';
import { ticketKey } from './tls/ticket-key.js';
import { clientAddressOf, workerConfigFor } from './worker-config.js';
import { WorkerPool } from './workers.js';

const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WORKER_ENTRY = fileURLToPath(new URL('../worker/main.js', import.meta.url));
const DEMO_MANIFESTS = fileURLToPath(new URL('../../demo/manifests', import.meta.url));
const GUI_DIR = fileURLToPath(new URL('../../gui', import.meta.url));
const SERVER_HEADER = 'flusso';
const STATUS_SHUTDOWN_TIMEOUT_MS = 5000;
/** How often certificates are checked again for expiry when nothing else changes. */
const TLS_RECHECK_MS = 3_600_000;

/**
 * createTlsManager prepares the private directory for certificate files: --tls-dir, else a fresh
 * one on /dev/shm (memory) when it exists, else in the temp directory (docs/tls.md).
 */
function createTlsManager(config: Config, log: Logger): TlsManager {
  const owns = config.tlsDir === undefined;
  const dir = config.tlsDir ?? privateTlsDir(log);
  const manager = new TlsManager({ dir, ownsDir: owns, log: log.child({ component: 'tls' }), ...(config.defaultSslCertificate === undefined ? {} : { defaultSecret: config.defaultSslCertificate }) });
  manager.init();
  return manager;
}

/**
 * privateTlsDir makes the fresh key directory: on /dev/shm when it exists and this user may write
 * there (a container's /dev/shm is world-writable; a bare chroot's may not be), else in the temp
 * directory, saying so, because keys then reach a disk unless the temp directory is in memory.
 */
function privateTlsDir(log: Logger): string {
  if (isDirectory('/dev/shm')) {
    try {
      return mkdtempSync(join('/dev/shm', 'flusso-tls-'));
    } catch (error) {
      log.warn({ err: (error as Error).message, fallback: tmpdir() }, 'cannot create the TLS key directory on /dev/shm; using the temp directory (set --tls-dir to a memory filesystem)');
    }
  }
  return mkdtempSync(join(tmpdir(), 'flusso-tls-'));
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * selfListeners describes this Flusso's listeners and the host's addresses, so that compile never
 * uses an endpoint that is one of them (compile/self-listeners.ts). A port of 0 is skipped.
 */
function selfListeners(config: Config): SelfListeners {
  const listeners = [
    { name: 'HTTP', port: config.httpPort, address: config.httpAddress },
    { name: 'HTTPS', port: config.httpsPort, address: config.httpsAddress },
    { name: 'admin', port: config.adminPort, address: config.adminAddress },
  ].filter((l) => l.port !== 0);
  const localAddresses = Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address));
  return { listeners, localAddresses };
}

function createSource(config: Config, log: Logger): { source: Source; status?: StatusPublisher } {
  if (config.source === 'kubernetes') {
    const kubeConfig = loadKubeConfig({ inCluster: config.inCluster, ...(config.kubeconfig === undefined ? {} : { kubeconfig: config.kubeconfig }) });
    const source = new KubernetesSource({
      kubeConfig,
      log: log.child({ component: 'kubernetes-source' }),
      namespaces: config.watchNamespace,
      ...(config.watchLabelSelector === undefined ? {} : { labelSelector: config.watchLabelSelector }),
    });
    // Without an address to publish there is nothing to write, so no election either.
    if (config.publishStatusAddress.length === 0 && config.publishService === undefined) return { source };
    const status = createStatusPublisher({
      kubeConfig,
      view: source,
      log,
      addresses: config.publishStatusAddress,
      ...(config.publishService === undefined ? {} : { publishService: config.publishService }),
      electionId: config.electionId,
      electionNamespace: config.electionNamespace,
      identity: electionIdentity(config.podName),
      leaseDurationMs: config.electionLeaseDurationMs,
      renewDeadlineMs: config.electionRenewDeadlineMs,
      retryPeriodMs: config.electionRetryPeriodMs,
    });
    return { source, status };
  }
  return { source: new FileSource({ dir: config.manifests, log: log.child({ component: 'file-source' }) }) };
}

/**
 * With `--compile-offload auto`, full compiles of Ingresses that weigh at least this much (one
 * per Ingress plus one per path: 1,000 one-path Ingresses, or one Ingress with 2,000 paths) run
 * on the compile thread: below it, compile and encode take a few milliseconds and the thread
 * hop would only add latency.
 */
const OFFLOAD_MIN_WEIGHT = 2000;

/** The rebuild holdoff when only EndpointSlices changed (routes keep the 100 ms default). */
const ENDPOINT_HOLDOFF_MS = 10;

/** proxyListeners are the sockets every worker binds (SO_REUSEPORT), with the flags that set them. */
function proxyListeners(config: Config): Listener[] {
  return [
    { name: 'HTTP', address: config.httpAddress, port: config.httpPort, flags: '--http-port / --http-address' },
    { name: 'HTTPS', address: config.httpsAddress, port: config.httpsPort, flags: '--https-port / --https-address' },
  ];
}

function adminListener(config: Config): Listener {
  return { name: 'admin', address: config.adminAddress, port: config.adminPort, flags: '--admin-port / --admin-address' };
}

/**
 * WorkerStartup waits for every worker to listen once, and fails at the first one that cannot
 * bind a listener: before readiness a port lost to a race with another process ends Flusso
 * (exit 1) rather than leaving workers to crash-loop.
 */
class WorkerStartup {
  readonly #listened = new Set<number>();
  #resolve!: () => void;
  #reject!: (err: Error) => void;
  #done = false;
  readonly done: Promise<void>;

  constructor(readonly workers: number) {
    this.done = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  /** over is true once every worker listened (or one failed): later events are the running pool's. */
  get over(): boolean {
    return this.#done;
  }

  listening(workerId: number): void {
    if (this.#done) return;
    this.#listened.add(workerId);
    if (this.#listened.size < this.workers) return;
    this.#done = true;
    this.#resolve();
  }

  failed(workerId: number, error: WireError): void {
    if (this.#done) return;
    this.#done = true;
    this.#reject(new IngressError('ING_ERR_LISTEN_FAILED', `worker ${workerId}: ${error.message}`));
  }
}

async function run(config: Config): Promise<void> {
  const log = createPrimaryLogger(config.logLevel, config.logFormat);
  // One TLS session ticket key for every worker, restarted ones included: a ticket resumes
  // whichever worker the kernel hands the connection to, and with --ssl-session-ticket-key
  // whichever replica (docs/tls.md). A bad key file ends the start here (exit 2).
  const ticketKeys = ticketKey(config.sslSessionTicketKey);
  // Every listener is bound once before anything else starts: a port in use, a port below 1024
  // without the privilege or an address this host lacks ends the start here, with the reason.
  const listeners = proxyListeners(config);
  await checkListeners([...listeners, adminListener(config)]).catch((err: unknown) => startupFailed(log, err));
  let shuttingDown = false;
  /** Every worker listened once and no other process shares the proxy ports: readiness may follow. */
  let verified = false;
  /** Proxy ports found shared with another process after a worker listened again (/healthz fails). */
  let sharedPorts: string[] = [];
  const startup = new WorkerStartup(config.workers);
  /** ownPids are our processes: the primary (admin socket) and every live worker. */
  const ownPids = (): number[] => [process.pid, ...pool.status().flatMap((w) => (w.pid > 0 ? [w.pid] : []))];
  const broadcaster = new SnapshotBroadcaster(
    (bytes, generation) => pool.publish(bytes, generation),
    (delta, generation, snapshot) => pool.publishEndpoints(delta, generation, snapshot),
  );
  const pool = new WorkerPool({
    count: config.workers,
    spare: config.spareWorker,
    onStats: (id, delta) => observability.onWorkerStats(id, delta),
    onExit: (id) => observability.onWorkerGone(id),
    onListening: (id) => {
      if (!startup.over) return startup.listening(id);
      // A worker that listens again (after a crash) is checked again: nothing may have joined the port meanwhile.
      sharedPorts = foreignListeners(listeners, ownPids()).map(sharedPortProblem);
      for (const problem of sharedPorts) log.error({ code: 'ING_ERR_LISTEN_FAILED', workerId: id, problem }, 'proxy port shared with another process; /healthz fails');
    },
    onListenFailed: (id, error) => startup.failed(id, error),
    exec: WORKER_ENTRY,
    // uWS reads its head limit from the environment when a worker loads it (docs/runtime.md).
    env: { UWS_HTTP_MAX_HEADERS_SIZE: String(config.maxRequestHeadBytes) },
    log: log.child({ component: 'workers' }),
    config: workerConfigFor(config, SERVER_HEADER, ticketKeys),
  });
  const overrides = new OverrideStore();
  // `table` is a getter: the live feed reads this state every second for the generation alone,
  // and a table compiled off the event loop is decoded only when something reads it.
  const observability: Observability = new Observability(
    (): ControlPlaneState => ({
      generation: broadcaster.generation,
      workers: pool.status(),
      diagnostics: controller.diagnostics,
      get table() {
        return controller.table;
      },
      source: config.source,
      watches: source.health(),
      certificates: tls.certificates,
    }),
    config.metricsIngressNginxCompat
      ? { controllerNamespace: config.podNamespace ?? '', controllerClass: config.controllerName, controllerPod: config.podName ?? hostname(), path: config.metricsIngressNginxPath, proxyPorts: [config.httpPort, config.httpsPort] }
      : null,
  );
  const tls = createTlsManager(config, log);
  // Key files never outlive the process, whichever way it ends.
  process.on('exit', () => tls.close());
  const controller: Controller = new Controller({
    tls,
    onSecretsReferenced: (keys) => {
      if (source instanceof KubernetesSource) source.retainSecrets(keys);
    },
    onBasicAuth: (credentials) => pool.publishBasicAuth(credentials),
    log: log.child({ component: 'controller' }),
    compile: { ingressClass: config.ingressClass, controllerName: config.controllerName, watchIngressWithoutClass: config.watchIngressWithoutClass, cacheDefault: config.cacheDefault === 'on', self: selfListeners(config), globalAllowedResponseHeaders: config.globalAllowedResponseHeaders, ...(config.addHeaders === undefined ? {} : { addHeaders: config.addHeaders }), ...(config.proxySetHeaders === undefined ? {} : { proxySetHeaders: config.proxySetHeaders }) },
    broadcaster,
    overrides,
    metrics: observability.controlPlane,
    ...(config.compileOffload === 'off' ? {} : { offload: { pool: new CompileOffload(), minWeight: config.compileOffload === 'on' ? 0 : OFFLOAD_MIN_WEIGHT } }),
  });
  const scheduler = new RebuildScheduler(() => void controller.rebuild());
  const { source, status } = createSource(config, log);
  if (status !== undefined) controller.onCompiled = (ingresses) => status.update(ingresses);

  // The configuration is known good now (flags, listeners, credentials): only now is a token made.
  const token = config.adminToken ?? generateToken();
  const admin: AdminServer = await startAdminServer({
    address: config.adminAddress,
    port: config.adminPort,
    token,
    publicRead: config.adminPublicRead,
    log: log.child({ component: 'admin' }),
    gui: loadGuiAssets(GUI_DIR),
    metrics: () => observability.metricsText(),
    history: () => observability.live.history(),
    ctx: {
      ready: () => !shuttingDown && verified && pool.ready(),
      health: () => {
        // A shared port found earlier is looked at again, so /healthz recovers once the other process left.
        if (sharedPorts.length > 0) sharedPorts = foreignListeners(listeners, ownPids()).map(sharedPortProblem);
        return [...pool.listenFailures().map((f) => `worker ${f.id} cannot serve: ${f.error.message}`), ...sharedPorts];
      },
      generation: () => broadcaster.generation,
      workers: () => pool.status(),
      diagnostics: () => controller.diagnostics,
      table: () => controller.table,
      overrides,
      publishOverrides: () => controller.publishOverrides(),
      serviceFigures: () => observability.traffic.byService(),
      purgeCache: (selector, timeoutMs) => pool.purgeCache(selector, timeoutMs),
      cacheFigures: () => observability.cache.figures(),
      certificates: () => tls.certificates,
      clientAddress: clientAddressOf(config),
    },
  });
  if (config.adminToken === undefined) {
    // Generated tokens are logged once, so an operator can open the GUI; set --admin-token to keep one.
    const host = config.adminAddress.includes(':') ? `[${config.adminAddress}]` : config.adminAddress;
    log.warn({ adminToken: token, gui: `http://${host}:${admin.port}/#token=${token}` }, 'admin token');
  }
  observability.start((sample) => admin.publish(sample));

  let synced = false;
  await source.start((update) => {
    controller.accept(update);
    // Endpoint-only changes are cheap to apply: a short holdoff still coalesces a burst. The
    // file source debounces its reloads itself (one update per burst of file events), so a
    // second holdoff would only add latency.
    if (synced) scheduler.schedule(config.source === 'file' ? 0 : controller.endpointsOnly ? ENDPOINT_HOLDOFF_MS : undefined);
  });
  synced = true;
  await controller.rebuild();
  pool.start();
  await startup.done.catch((err: unknown) => startupFailed(log, err));
  // Two processes that passed checkListeners at the same moment could both have bound with
  // SO_REUSEPORT: refuse a proxy port that another process shares with our workers.
  const shared = foreignListeners(listeners, ownPids());
  if (shared.length > 0) startupFailed(log, new IngressError('ING_ERR_LISTEN_FAILED', shared.map(sharedPortProblem).join('; ')));
  verified = true;
  status?.start();
  // Certificates near or past their expiry get their diagnostics without any object changing.
  const tlsRecheck = setInterval(() => controller.refreshTls(), TLS_RECHECK_MS);
  tlsRecheck.unref();
  const { adminToken: _secret, ...shown } = config;
  const trust = clientAddressOf(config);
  if (trust !== null && trust.source !== 'none' && trustsEveryone(trust.trusted))
    log.warn({ proxyRealIpCidr: trust.trusted, code: 'ING_ERR_CONFIG_TRUSTS_EVERY_PEER' }, `${trust.source === 'proxy-protocol' ? 'the PROXY protocol header' : `--forwarded-for-header (${config.forwardedForHeader})`} names the client for every peer in --proxy-real-ip-cidr, which trusts every address: any client can choose the address the allow-lists, rate limits and logs see; list the load balancers' addresses instead (docs/client-address.md)`);
  if (config.useProxyProtocol && !config.http2) log.info({ httpPort: config.httpPort, httpsPort: config.httpsPort }, 'PROXY protocol is required on the HTTP port only: with --http2 off the HTTPS port takes none (docs/client-address.md)');
  log.info({ ...shown, adminToken: config.adminToken === undefined ? 'generated' : 'given', adminPort: admin.port, version: packageVersion(), node: process.version }, 'flusso started');

  const shutdown = async (signal: string): Promise<void> => {
    if (shuttingDown) {
      log.warn({ signal }, 'already shutting down');
      return;
    }
    shuttingDown = true;
    log.info({ signal, drainTimeoutMs: config.drainTimeoutMs }, 'shutting down: draining workers');
    scheduler.cancel();
    if (status !== undefined) {
      // Bounded: an unreachable API must not hold the shutdown (the Lease then expires on its own).
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([status.shutdown(config.updateStatusOnShutdown), new Promise((r) => (timer = setTimeout(r, STATUS_SHUTDOWN_TIMEOUT_MS)))]);
      clearTimeout(timer);
    }
    await source.stop();
    await controller.close();
    await pool.drain(config.drainTimeoutMs);
    clearInterval(tlsRecheck);
    tls.close();
    observability.stop();
    admin.close();
    log.info('shutdown complete');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

/** startupFailed logs why the start failed (JSON, for the log pipeline) and throws it on to main (stderr, exit status). */
function startupFailed(log: Logger, err: unknown): never {
  const code = err instanceof IngressError ? err.code : 'ING_ERR_STARTUP';
  log.fatal({ code, err: err instanceof Error ? err.message : String(err) }, 'cannot start');
  throw err;
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(`${PACKAGE_ROOT}package.json`, 'utf8')) as { version?: string };
  return pkg.version ?? '0.0.0';
}

/** main parses the command line and runs Flusso; exit 2 for bad configuration, 1 for other startup failures. */
export async function main(argv: readonly string[]): Promise<void> {
  if (argv[0] === 'bench') {
    // `flusso bench URL`: the load generator (docs/load-testing.md), loaded only when asked for.
    const { runBench } = await import('../loadgen/cli.js');
    process.exitCode = await runBench(argv.slice(1));
    return;
  }
  const ctx = { env: process.env, demoManifests: DEMO_MANIFESTS };
  try {
    const request = parseCommandLine(argv, ctx);
    if (request.kind === 'help') {
      process.stdout.write(helpText(ctx));
      return;
    }
    if (request.kind === 'version') {
      process.stdout.write(`flusso ${packageVersion()}\n`);
      return;
    }
    await run(request.config);
  } catch (err) {
    const code = err instanceof IngressError ? err.code : 'ING_ERR_STARTUP';
    process.stderr.write(`flusso: ${err instanceof Error ? err.message : String(err)} [${code}]\n`);
    process.exit(code === 'ING_ERR_CONFIG_INVALID' ? 2 : 1);
  }
}
