/**
 * Runs the built Flusso CLI (`bin/flusso`, which loads dist/) as a child process for
 * integration tests: free ports, JSON log capture, readiness and generation waits, and cleanup.
 * Build first (`npm run build`); the tests never compile the product themselves.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';
import type { WorkerStatus } from '../../src/primary/workers.js';
import { freePort } from './ports.js';

/** REPO_ROOT is the checkout root (test/helpers/../..). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** FLUSSO_BIN is the CLI entry point. */
export const FLUSSO_BIN = join(REPO_ROOT, 'bin', 'flusso');


/** ReadyzBody is the JSON body of GET /readyz. */
export interface ReadyzBody {
  readonly ready: boolean;
  readonly generation: number;
  readonly workers: readonly WorkerStatus[];
}

/** DiagnosticEntry is one entry of /api/v1/diagnostics. */
export interface DiagnosticEntry {
  readonly code: string;
  readonly severity: string;
  readonly object: string;
  readonly message: string;
  readonly file?: string;
}

/** DiagnosticsBody is the JSON body of GET /api/v1/diagnostics. */
export interface DiagnosticsBody {
  readonly generation: number;
  readonly diagnostics: readonly DiagnosticEntry[];
}

/** LogLine is a parsed pino line. */
export type LogLine = Record<string, unknown>;

/** StartFlussoOptions configures startFlusso. */
export interface StartFlussoOptions {
  /** The `--manifests` directory of `--source file`; required unless sourceArgs is given. */
  readonly manifestsDir?: string;
  /** Replace `--source file --manifests DIR`, e.g. `['--source', 'kubernetes', '--kubeconfig', FILE]`. */
  readonly sourceArgs?: readonly string[];
  /** --workers (default 2). */
  readonly workers?: number;
  /** Extra CLI arguments, appended after the defaults (so they win where the parser takes the last). */
  readonly args?: readonly string[];
  /** Extra environment variables. */
  readonly env?: Record<string, string>;
  /** Leave out the port/worker/log flags (config precedence tests choose them another way). */
  readonly bareArgs?: boolean;
  /** Port to poll for readiness when bareArgs is set. */
  readonly adminPort?: number;
  readonly httpPort?: number;
  readonly httpsPort?: number;
  /** Do not wait for /readyz (for processes expected to fail). */
  readonly waitReady?: boolean;
  /** How long to wait for /readyz 200 (default 20 s). */
  readonly readyTimeoutMs?: number;
}

/** ExitResult is how the process ended. */
export interface ExitResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** FlussoProcess is a running Flusso. */
export interface FlussoProcess {
  readonly httpPort: number;
  /** The HTTPS port (bareArgs runs choose it themselves; then it is unused). */
  readonly httpsPort: number;
  readonly adminPort: number;
  readonly pid: number;
  readyz(): Promise<{ status: number; body: ReadyzBody }>;
  /** waitForGeneration polls /readyz until ready and `generation >= atLeast`. */
  waitForGeneration(atLeast: number, timeoutMs?: number): Promise<ReadyzBody>;
  diagnostics(): Promise<DiagnosticsBody>;
  /** Parsed JSON log lines so far (stdout). */
  logs(): LogLine[];
  /** waitForLog resolves with the first log line (past or future) matching `pred`. */
  waitForLog(pred: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Raw stdout lines so far. */
  rawLogs(): string[];
  stderr(): string;
  /** Everything collected, for failure messages. */
  output(): string;
  /** Resolves when the process has exited. */
  exited(): Promise<ExitResult>;
  /** stop sends `signal` and waits for exit (SIGKILL after `timeoutMs`, default 30 s). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<ExitResult>;
  kill(): void;
}

const running = new Set<ChildProcess>();

afterAll(() => {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
});
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * pollUntil calls `check` every `intervalMs` until it returns a value, or throws after
 * `timeoutMs`. An error thrown by `check` ends the wait at once.
 */
export async function pollUntil<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 20_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

async function getJson<T>(url: string, token?: string): Promise<{ status: number; body: T }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000), ...(token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } }) });
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text) as T };
}

/**
 * startFlusso spawns `node bin/flusso --source file --manifests DIR --http-port P --admin-port Q
 * --workers N --log-level info ...args` from the repo root and waits for /readyz 200.
 */
export async function startFlusso(opts: StartFlussoOptions): Promise<FlussoProcess> {
  const httpPort = opts.httpPort ?? (await freePort());
  const httpsPort = opts.httpsPort ?? (await freePort());
  const adminPort = opts.adminPort ?? (await freePort());
  if (opts.sourceArgs === undefined && opts.manifestsDir === undefined) throw new Error('startFlusso needs manifestsDir or sourceArgs');
  const sourceArgs = opts.sourceArgs ?? ['--source', 'file', '--manifests', opts.manifestsDir as string];
  const args = opts.bareArgs
    ? [...sourceArgs, ...(opts.args ?? [])]
    : [
        ...sourceArgs,
        '--http-port', String(httpPort),
        '--https-port', String(httpsPort),
        '--admin-port', String(adminPort),
        '--workers', String(opts.workers ?? 2),
        '--log-level', 'info',
        ...(opts.args ?? []),
      ];
  // The admin API needs the token: the one given with --admin-token, else the one Flusso logs.
  const given = args.indexOf('--admin-token');
  const adminToken = (): string | undefined => {
    if (given >= 0) return args[given + 1];
    const line = parsed.find((l) => l.msg === 'admin token');
    return typeof line?.adminToken === 'string' ? line.adminToken : undefined;
  };
  const child = spawn(process.execPath, [FLUSSO_BIN, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...(opts.env ?? {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const raw: string[] = [];
  const parsed: LogLine[] = [];
  const logWaiters = new Set<{ pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }>();
  let stderr = '';
  createInterface({ input: child.stdout! }).on('line', (line) => {
    raw.push(line);
    try {
      const v: unknown = JSON.parse(line);
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
        const l = v as LogLine;
        parsed.push(l);
        for (const w of logWaiters) if (w.pred(l)) { logWaiters.delete(w); w.resolve(l); }
      }
    } catch {
      // Not JSON; kept in raw.
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exit = new Promise<ExitResult>((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    });
  });
  let exitResult: ExitResult | undefined;
  void exit.then((r) => (exitResult = r));
  const admin = `http://127.0.0.1:${adminPort}`;
  const output = (): string => `--- flusso ${args.join(' ')}\n--- exit: ${JSON.stringify(exitResult ?? null)}\n--- stdout:\n${raw.join('\n')}\n--- stderr:\n${stderr}`;

  const readyz = (): Promise<{ status: number; body: ReadyzBody }> => getJson<ReadyzBody>(`${admin}/readyz`);
  // While starting or shutting down the admin port may refuse connections: that is "not yet".
  const tryReadyz = (): Promise<{ status: number; body: ReadyzBody } | undefined> => readyz().catch(() => undefined);
  const proc: FlussoProcess = {
    httpPort,
    httpsPort,
    adminPort,
    pid: child.pid ?? -1,
    readyz,
    waitForGeneration: (atLeast, timeoutMs = 20_000) =>
      pollUntil(`ready at generation >= ${atLeast}`, async () => {
        if (exitResult) throw new Error('flusso exited');
        const r = await tryReadyz();
        return r && r.status === 200 && r.body.ready && r.body.generation >= atLeast ? r.body : undefined;
      }, timeoutMs).catch((err: unknown) => {
        throw new Error(`${String(err)}\n${output()}`);
      }),
    diagnostics: async () => (await getJson<DiagnosticsBody>(`${admin}/api/v1/diagnostics`, adminToken())).body,
    logs: () => [...parsed],
    waitForLog: (pred, timeoutMs = 20_000) => {
      const seen = parsed.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const w = { pred, resolve: (l: LogLine) => { clearTimeout(timer); resolve(l); } };
        const timer = setTimeout(() => {
          logWaiters.delete(w);
          reject(new Error(`no matching log line within ${timeoutMs} ms\n${output()}`));
        }, timeoutMs);
        logWaiters.add(w);
      });
    },
    rawLogs: () => [...raw],
    stderr: () => stderr,
    output,
    exited: () => exit,
    stop: async (signal = 'SIGTERM', timeoutMs = 30_000) => {
      if (exitResult) return exitResult;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      try {
        return await exit;
      } finally {
        clearTimeout(timer);
      }
    },
    kill: () => {
      if (!exitResult) child.kill('SIGKILL');
    },
  };
  if (opts.waitReady === false) return proc;
  try {
    await pollUntil('/readyz 200', async () => {
      if (exitResult) throw new ExitedEarly();
      return (await tryReadyz())?.status === 200 ? true : undefined;
    }, opts.readyTimeoutMs ?? 20_000);
  } catch (err) {
    proc.kill();
    await exit;
    throw new Error(`flusso did not become ready: ${err instanceof ExitedEarly ? 'it exited' : String(err)}\n${output()}`);
  }
  return proc;
}

class ExitedEarly extends Error {}
