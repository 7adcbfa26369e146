/**
 * The primary's composition root: configuration → source → compile → broadcast → workers,
 * plus the admin server and the shutdown sequence. It owns no request traffic.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { IngressError, type Diagnostic } from '../shared/errors.js';
import { startAdminServer, type AdminServer } from './admin/server.js';
import { SnapshotBroadcaster } from './broadcast.js';
import { compileSnapshot, type CompileOptions } from './compile/index.js';
import { helpText, parseCommandLine, type Config } from './config.js';
import { createPrimaryLogger, type Logger } from './log.js';
import { RebuildScheduler } from './rebuild.js';
import { FileSource } from './sources/file-source.js';
import type { Source, SourceUpdate } from './sources/source.js';
import { WorkerPool } from './workers.js';

const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WORKER_ENTRY = fileURLToPath(new URL('../worker/main.js', import.meta.url));
const DEMO_MANIFESTS = fileURLToPath(new URL('../../demo/manifests', import.meta.url));
const SERVER_HEADER = 'flusso';

/** Controller ties one source to the compiler, the broadcaster and the workers. */
class Controller {
  readonly #log: Logger;
  readonly #compileOptions: CompileOptions;
  readonly #broadcaster: SnapshotBroadcaster;
  #latest: SourceUpdate | null = null;
  #diagnostics: readonly Diagnostic[] = [];
  #reported = new Set<string>();

  constructor(log: Logger, compileOptions: CompileOptions, broadcaster: SnapshotBroadcaster) {
    this.#log = log;
    this.#compileOptions = compileOptions;
    this.#broadcaster = broadcaster;
  }

  get diagnostics(): readonly Diagnostic[] {
    return this.#diagnostics;
  }

  /** accept stores the newest state of the source; rebuild() compiles it. */
  accept(update: SourceUpdate): void {
    this.#latest = update;
  }

  rebuild(): void {
    const update = this.#latest;
    if (!update) return;
    const started = performance.now();
    const result = compileSnapshot(update.view, this.#compileOptions);
    const published = this.#broadcaster.publish(result.table);
    const durationMs = Math.round((performance.now() - started) * 100) / 100;
    this.#diagnostics = [...update.diagnostics, ...result.diagnostics];
    this.#reportNew(result.diagnostics);
    this.#log.info({ generation: published.generation, changed: published.changed, ingresses: result.ingresses.length, hosts: result.table.hosts.length, clusters: result.table.clusters.length, diagnostics: this.#diagnostics.length, bytes: published.bytes, durationMs }, published.changed ? 'snapshot published' : 'snapshot unchanged');
  }

  // Compile diagnostics are logged once each, not on every rebuild; the source logs its own.
  #reportNew(diagnostics: readonly Diagnostic[]): void {
    const now = new Set<string>();
    for (const d of diagnostics) {
      const key = `${d.code}|${d.object}|${d.message}`;
      now.add(key);
      if (!this.#reported.has(key)) this.#log[d.severity === 'error' ? 'warn' : 'info']({ code: d.code, object: d.object, detail: d.message }, 'configuration diagnostic');
    }
    this.#reported = now;
  }
}

function createSource(config: Config, log: Logger): Source {
  if (config.source === 'kubernetes')
    throw new IngressError('ING_ERR_CONFIG_INVALID', '--source kubernetes is not available in this build yet; use --source file --manifests DIR');
  return new FileSource({ dir: config.manifests, log: log.child({ component: 'file-source' }) });
}

async function run(config: Config): Promise<void> {
  const log = createPrimaryLogger(config.logLevel);
  let shuttingDown = false;
  const broadcaster = new SnapshotBroadcaster((bytes, generation) => pool.publish(bytes, generation));
  const pool = new WorkerPool({
    count: config.workers,
    exec: WORKER_ENTRY,
    log: log.child({ component: 'workers' }),
    config: {
      httpPort: config.httpPort,
      httpAddress: config.httpAddress,
      upstreamConnectTimeoutMs: config.upstreamConnectTimeoutMs,
      upstreamHeadersTimeoutMs: config.upstreamResponseTimeoutMs,
      upstreamBodyTimeoutMs: config.upstreamIdleTimeoutMs,
      upstreamKeepAliveTimeoutMs: config.upstreamKeepAliveTimeoutMs,
      upstreamMaxConnections: config.upstreamMaxConnections,
      drainTimeoutMs: config.drainTimeoutMs,
      logLevel: config.logLevel,
      serverHeader: SERVER_HEADER,
    },
  });
  const controller = new Controller(log.child({ component: 'controller' }), {
    ingressClass: config.ingressClass,
    controllerName: config.controllerName,
    watchIngressWithoutClass: config.watchIngressWithoutClass,
  }, broadcaster);
  const scheduler = new RebuildScheduler(() => controller.rebuild());
  const source = createSource(config, log);

  const admin: AdminServer = await startAdminServer(config.adminAddress, config.adminPort, {
    ready: () => !shuttingDown && pool.ready(),
    generation: () => broadcaster.generation,
    workers: () => pool.status(),
    diagnostics: () => controller.diagnostics,
  });

  let synced = false;
  await source.start((update) => {
    controller.accept(update);
    if (synced) scheduler.schedule();
  });
  synced = true;
  controller.rebuild();
  pool.start();
  log.info({ ...config, adminPort: admin.port, version: packageVersion() }, 'flusso started');

  const shutdown = async (signal: string): Promise<void> => {
    if (shuttingDown) {
      log.warn({ signal }, 'already shutting down');
      return;
    }
    shuttingDown = true;
    log.info({ signal, drainTimeoutMs: config.drainTimeoutMs }, 'shutting down: draining workers');
    scheduler.cancel();
    await source.stop();
    await pool.drain(config.drainTimeoutMs);
    admin.close();
    log.info('shutdown complete');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(`${PACKAGE_ROOT}package.json`, 'utf8')) as { version?: string };
  return pkg.version ?? '0.0.0';
}

/** main parses the command line and runs Flusso; exit 2 for bad configuration, 1 for other startup failures. */
export async function main(argv: readonly string[]): Promise<void> {
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
