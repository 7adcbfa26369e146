/**
 * `flusso bench URL`: the user-facing load generator (docs/load-testing.md). The main thread
 * parses and checks everything first (nothing is sent when an option or a file is bad), starts
 * the load threads, prints a progress line a second, then merges the threads' counters and
 * histograms into the summary, the --json document and the --compare table.
 */
import { lookup } from 'node:dns/promises';
import { accessSync, constants, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { COUNTER_SLOTS, ERROR_KINDS, errorSlot, Slot } from './counters.js';
import type { DriverConfig } from './driver.js';
import { DEFAULT_HIGHEST_US, HdrHistogram } from './hdr-histogram.js';
import { BENCH_HELP, BenchUsageError, parseBenchArgs, type BenchOptions } from './options.js';
import { buildResult, fmtMs, formatComparison, formatResult, parseSavedResult, SavedResultError, type BenchResult } from './report.js';
import type { ThreadData, ThreadMessage } from './thread.js';

const THREAD_ENTRY = new URL('./thread.js', import.meta.url);
const PROGRESS_MS = 1000;

/** BenchIo is where a run writes; the CLI passes the process's streams. */
export interface BenchIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream & { readonly isTTY?: boolean };
}

/** runBench runs `flusso bench` with the arguments after "bench" and returns the exit status. */
export async function runBench(argv: readonly string[], io: BenchIo = process): Promise<number> {
  let options: BenchOptions;
  let body: Buffer | null;
  let saved: { result: BenchResult; file: string } | null;
  try {
    const cmd = parseBenchArgs(argv);
    if (cmd.kind === 'help') {
      io.stdout.write(BENCH_HELP);
      return 0;
    }
    options = cmd.options;
    body = readBody(options.body);
    saved = options.compareFile === null ? null : readSaved(options.compareFile);
    if (options.jsonFile !== null && options.jsonFile !== '-') checkWritable(options.jsonFile);
  } catch (err) {
    if (!(err instanceof BenchUsageError || err instanceof SavedResultError)) throw err;
    io.stderr.write(`${err.message.startsWith('flusso bench') ? '' : 'flusso bench: '}${err.message}\n`);
    return 2;
  }

  const hostname = options.url.hostname.replace(/^\[(.*)\]$/, '$1');
  let address: string;
  try {
    address = (await lookup(hostname)).address;
  } catch (err) {
    io.stderr.write(`flusso bench: cannot resolve ${hostname}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}\n`);
    return 1;
  }
  const port = options.url.port === '' ? 80 : Number(options.url.port);
  const request = buildRequest(options, body);
  const showProgress = options.progress ?? io.stderr.isTTY === true;
  const jsonToStdout = options.jsonFile === '-';
  const out = jsonToStdout ? io.stderr : io.stdout;

  let run: ThreadRun;
  try {
    run = await runThreads(options, { address, port, request }, io.stderr, showProgress);
  } catch (err) {
    io.stderr.write(`flusso bench: a load thread failed: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
  const result = buildResult(options, body?.length ?? 0, run.startedAt, run.elapsedMs, run.counters, run.latency, run.service);
  out.write(formatResult(result));
  if (saved !== null) out.write(formatComparison(saved.result, result, saved.file));
  if (options.jsonFile !== null) {
    const text = `${JSON.stringify(result, null, 2)}\n`;
    if (jsonToStdout) io.stdout.write(text);
    else {
      try {
        writeFileSync(options.jsonFile, text);
      } catch (err) {
        io.stderr.write(`flusso bench: cannot write ${options.jsonFile}: ${(err as Error).message}\n`);
        return 1;
      }
    }
  }
  return 0;
}

function readBody(body: string | null): Buffer | null {
  if (body === null) return null;
  if (!body.startsWith('@')) return Buffer.from(body, 'utf8');
  try {
    return readFileSync(body.slice(1));
  } catch (err) {
    throw new BenchUsageError(`cannot read the --body file ${body.slice(1)}: ${(err as Error).message}`);
  }
}

function readSaved(file: string): { result: BenchResult; file: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new BenchUsageError(`cannot read the --compare file ${file}: ${(err as Error).message}`);
  }
  return { result: parseSavedResult(text, file), file };
}

/** checkWritable refuses a --json path whose directory does not exist or cannot be written, before any load is sent. */
function checkWritable(file: string): void {
  try {
    accessSync(dirname(resolve(file)), constants.W_OK);
  } catch (err) {
    throw new BenchUsageError(`cannot write the --json file ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'its directory does not exist' : (err as Error).message}`);
  }
}

/** buildRequest renders the one request every connection sends: head and body. */
export function buildRequest(options: BenchOptions, body: Buffer | null): Buffer {
  const lines = [`${options.method} ${options.url.pathname}${options.url.search} HTTP/1.1`];
  if (!options.headers.some((h) => /^host\s*:/i.test(h))) lines.push(`Host: ${options.url.host}`);
  for (const h of options.headers) {
    const colon = h.indexOf(':');
    lines.push(`${h.slice(0, colon)}: ${h.slice(colon + 1).trim()}`);
  }
  if (body !== null || /^(POST|PUT|PATCH)$/i.test(options.method)) lines.push(`Content-Length: ${body?.length ?? 0}`);
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  return body === null ? head : Buffer.concat([head, body]);
}

interface Target {
  readonly address: string;
  readonly port: number;
  readonly request: Buffer;
}

interface ThreadRun {
  readonly startedAt: Date;
  readonly elapsedMs: number;
  readonly counters: Float64Array;
  readonly latency: HdrHistogram;
  readonly service: HdrHistogram | null;
}

/** share splits `total` into `parts` whole shares (the first ones one larger). */
function share(total: number, parts: number, i: number): number {
  return Math.floor(total / parts) + (i < total % parts ? 1 : 0);
}

async function runThreads(options: BenchOptions, target: Target, stderr: NodeJS.WritableStream, showProgress: boolean): Promise<ThreadRun> {
  const progress = showProgress ? stderr : null;
  const rateMode = options.rate !== null;
  const threads: { worker: Worker; counters: Float64Array; latency: HdrHistogram; service: HdrHistogram | null; done: Promise<void> }[] = [];
  for (let i = 0; i < options.threads; i++) {
    const connections = share(options.connections, options.threads, i);
    const config: DriverConfig = {
      address: target.address,
      port: target.port,
      request: target.request,
      headRequests: options.method.toUpperCase() === 'HEAD',
      connections,
      requests: options.requests === null ? null : share(options.requests, options.threads, i),
      durationMs: options.durationMs,
      rate: options.rate === null ? null : (options.rate * connections) / options.connections,
      timeoutMs: options.timeoutMs,
    };
    const data: ThreadData = {
      config,
      highestUs: DEFAULT_HIGHEST_US,
      counters: new SharedArrayBuffer(COUNTER_SLOTS * Float64Array.BYTES_PER_ELEMENT),
      latency: new SharedArrayBuffer(HdrHistogram.bytesFor(DEFAULT_HIGHEST_US)),
      service: rateMode ? new SharedArrayBuffer(HdrHistogram.bytesFor(DEFAULT_HIGHEST_US)) : null,
    };
    const worker = new Worker(THREAD_ENTRY, { workerData: data });
    const ready = new Promise<void>((res, rej) => {
      worker.once('error', rej);
      worker.once('message', (m: ThreadMessage) => (m.kind === 'ready' ? res() : rej(new Error(`load thread ${i} said ${m.kind} before ready`))));
    });
    const done = ready.then(
      () =>
        new Promise<void>((res, rej) => {
          worker.on('message', (m: ThreadMessage) => m.kind === 'done' && res());
          worker.once('error', rej);
          worker.once('exit', (code) => (code === 0 ? res() : rej(new Error(`load thread ${i} exited with ${code}`))));
        }),
    );
    threads.push({ worker, counters: new Float64Array(data.counters), latency: new HdrHistogram(DEFAULT_HIGHEST_US, data.latency), service: data.service === null ? null : new HdrHistogram(DEFAULT_HIGHEST_US, data.service), done });
    await ready;
  }

  const merged = (): { counters: Float64Array; latency: HdrHistogram; service: HdrHistogram | null } => {
    const counters = new Float64Array(COUNTER_SLOTS);
    const latency = new HdrHistogram(DEFAULT_HIGHEST_US);
    const service = rateMode ? new HdrHistogram(DEFAULT_HIGHEST_US) : null;
    for (const t of threads) {
      for (let i = 0; i < COUNTER_SLOTS; i++) counters[i] = (counters[i] ?? 0) + (t.counters[i] ?? 0);
      latency.merge(t.latency);
      if (service !== null && t.service !== null) service.merge(t.service);
    }
    return { counters, latency, service };
  };

  const stopAll = (): void => {
    for (const t of threads) t.worker.postMessage('stop');
  };
  // Ctrl-C ends the run early and still prints what was measured; a second one exits at once.
  let interrupted = false;
  const onSigint = (): void => {
    if (interrupted) process.exit(130);
    interrupted = true;
    stderr.write('flusso bench: interrupted; stopping (Ctrl-C again to quit without results)\n');
    stopAll();
  };
  process.on('SIGINT', onSigint);

  const startedAt = new Date();
  const t0 = performance.now();
  for (const t of threads) t.worker.postMessage('start');
  let ticker: NodeJS.Timeout | null = null;
  if (progress !== null) {
    let last = merged();
    let lastAt = t0;
    ticker = setInterval(() => {
      const now = performance.now();
      const cur = merged();
      const seconds = (now - lastAt) / 1000;
      const answered = (cur.counters[Slot.answered] ?? 0) - (last.counters[Slot.answered] ?? 0);
      const p99 = cur.latency.since(last.latency).valueAt(99) / 1000;
      const errors = ERROR_KINDS.reduce((sum, k) => sum + (cur.counters[errorSlot(k)] ?? 0), 0);
      progress.write(`${((now - t0) / 1000).toFixed(0).padStart(4)} s  ${Math.round(answered / seconds).toLocaleString('en-US').padStart(9)} req/s  p99 ${fmtMs(p99).padStart(9)}  errors ${errors.toLocaleString('en-US')}  answered ${(cur.counters[Slot.answered] ?? 0).toLocaleString('en-US')}\n`);
      last = cur;
      lastAt = now;
    }, PROGRESS_MS);
  }
  try {
    await Promise.all(threads.map((t) => t.done));
  } catch (err) {
    stopAll();
    throw err;
  } finally {
    if (ticker !== null) clearInterval(ticker);
    process.off('SIGINT', onSigint);
  }
  const elapsedMs = performance.now() - t0;
  await Promise.all(threads.map((t) => t.worker.terminate()));
  return { startedAt, elapsedMs, ...merged() };
}
