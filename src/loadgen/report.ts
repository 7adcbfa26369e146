/**
 * The results of a `flusso bench` run: the summary built from the merged counters and
 * histograms, its text form, the JSON document of --json, and the comparison of --compare.
 */
import { COUNTER_SLOTS, ERROR_KINDS, errorSlot, Slot, type ErrorKind } from './counters.js';
import type { HdrHistogram } from './hdr-histogram.js';
import type { BenchOptions } from './options.js';

/** RESULT_FORMAT names the JSON document version; --compare accepts only this one. */
export const RESULT_FORMAT = 'flusso-bench/1';

/** PERCENTILES are the percentiles reported, with their JSON keys. */
export const PERCENTILES = [
  ['p50', 50],
  ['p90', 90],
  ['p99', 99],
  ['p99_9', 99.9],
] as const;

/** LatencySummary is a latency distribution in milliseconds. */
export interface LatencySummary {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p99_9: number;
  readonly min: number;
  readonly max: number;
  readonly mean: number;
  readonly stdev: number;
  /** Requests measured. */
  readonly count: number;
}

/** BenchResult is the JSON document of a run (--json), and what --compare reads back. */
export interface BenchResult {
  readonly format: typeof RESULT_FORMAT;
  readonly url: string;
  readonly startedAt: string;
  readonly settings: {
    readonly connections: number;
    readonly threads: number;
    readonly durationMs: number | null;
    readonly requests: number | null;
    readonly rate: number | null;
    readonly method: string;
    readonly headers: readonly string[];
    readonly bodyBytes: number;
    readonly timeoutMs: number;
  };
  readonly elapsedMs: number;
  /** Whole answers, and answers per second over the elapsed time. */
  readonly answered: number;
  readonly requestsPerSecond: number;
  readonly bytesRead: number;
  readonly connectionsOpened: number;
  /** Requests in flight when the deadline stopped the run (neither answered nor failed). */
  readonly abandoned: number;
  /** From the write to the answer's last byte; in rate mode plus the wait past the intended send time (coordinated omission corrected). */
  readonly latencyMs: LatencySummary;
  /** Rate mode only: from the actual send to the answer's last byte. */
  readonly serviceTimeMs: LatencySummary | null;
  /** Answers by status code. */
  readonly statuses: Readonly<Record<string, number>>;
  /** Failed requests by kind, and their total. */
  readonly errors: Readonly<Record<ErrorKind, number>> & { readonly total: number };
  readonly node: string;
}

/** summarize turns a histogram of microseconds into milliseconds. */
export function summarize(h: HdrHistogram): LatencySummary {
  const ms = (us: number): number => Math.round(us) / 1000;
  const empty = h.totalCount === 0;
  return {
    p50: ms(h.valueAt(50)),
    p90: ms(h.valueAt(90)),
    p99: ms(h.valueAt(99)),
    p99_9: ms(h.valueAt(99.9)),
    min: ms(h.min),
    max: ms(h.max),
    mean: empty ? 0 : ms(h.mean),
    stdev: empty ? 0 : ms(h.stdDev),
    count: h.totalCount,
  };
}

/** buildResult assembles the result document from the merged counters and histograms. */
export function buildResult(
  options: BenchOptions,
  bodyBytes: number,
  startedAt: Date,
  elapsedMs: number,
  counters: Float64Array,
  latency: HdrHistogram,
  service: HdrHistogram | null,
): BenchResult {
  const at = (i: number): number => counters[i] ?? 0;
  const statuses: Record<string, number> = {};
  for (let code = 100; code < COUNTER_SLOTS - Slot.statusBase; code++) if (at(Slot.statusBase + code) > 0) statuses[String(code)] = at(Slot.statusBase + code);
  const errors = Object.fromEntries(ERROR_KINDS.map((k) => [k, at(errorSlot(k))])) as Record<ErrorKind, number>;
  const answered = at(Slot.answered);
  return {
    format: RESULT_FORMAT,
    url: options.url.href,
    startedAt: startedAt.toISOString(),
    settings: {
      connections: options.connections,
      threads: options.threads,
      durationMs: options.durationMs,
      requests: options.requests,
      rate: options.rate,
      method: options.method,
      headers: options.headers,
      bodyBytes,
      timeoutMs: options.timeoutMs,
    },
    elapsedMs: Math.round(elapsedMs),
    answered,
    requestsPerSecond: elapsedMs > 0 ? Math.round((answered / elapsedMs) * 1000 * 10) / 10 : 0,
    bytesRead: at(Slot.bytesRead),
    connectionsOpened: at(Slot.connections),
    abandoned: at(Slot.abandoned),
    latencyMs: summarize(latency),
    serviceTimeMs: service === null ? null : summarize(service),
    statuses,
    errors: { ...errors, total: ERROR_KINDS.reduce((sum, k) => sum + errors[k], 0) },
    node: process.version,
  };
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US');

/** fmtMs prints milliseconds with 3 significant digits (µs below 1 ms). */
export function fmtMs(ms: number): string {
  if (ms < 1) return `${Math.round(ms * 1000)} µs`;
  if (ms < 1000) return `${ms.toPrecision(3)} ms`;
  return `${(ms / 1000).toPrecision(3)} s`;
}

function fmtBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(2)} MiB`;
  if (n >= 2 ** 10) return `${(n / 2 ** 10).toFixed(1)} KiB`;
  return `${n} B`;
}

function latencyLine(label: string, l: LatencySummary): string {
  if (l.count === 0) return `  ${label.padEnd(10)} none (no answers)`;
  return `  ${label.padEnd(10)} p50 ${fmtMs(l.p50)}  p90 ${fmtMs(l.p90)}  p99 ${fmtMs(l.p99)}  p99.9 ${fmtMs(l.p99_9)}  max ${fmtMs(l.max)}  mean ${fmtMs(l.mean)}`;
}

/** formatResult is the text printed at the end of a run. */
export function formatResult(r: BenchResult): string {
  const s = r.settings;
  const bound = [s.durationMs === null ? null : `${s.durationMs / 1000} s`, s.requests === null ? null : `${int(s.requests)} requests`].filter((x) => x !== null).join(' or ');
  const lines = [
    `${s.method} ${r.url}: ${s.connections} connection${s.connections === 1 ? '' : 's'}, ${s.threads} thread${s.threads === 1 ? '' : 's'}, ${bound}${s.rate === null ? '' : `, ${int(s.rate)} req/s constant rate`}, HTTP/1.1 keep-alive`,
    `  requests   ${int(r.answered)} answered in ${(r.elapsedMs / 1000).toFixed(2)} s: ${int(r.requestsPerSecond)} req/s, ${fmtBytes(r.bytesRead / Math.max(r.elapsedMs / 1000, 1e-3))}/s read, ${int(r.connectionsOpened)} connections opened`,
    latencyLine(s.rate === null ? 'latency' : 'latency*', r.latencyMs),
  ];
  if (r.serviceTimeMs !== null) {
    lines.push(latencyLine('service', r.serviceTimeMs));
    lines.push('             * service time plus any wait past the intended send time (coordinated omission corrected); service: from the write to the last byte');
  }
  const codes = Object.entries(r.statuses);
  lines.push(`  statuses   ${codes.length === 0 ? 'none' : codes.map(([c, n]) => `${c}: ${int(n)}`).join(', ')}`);
  const other = codes.filter(([c]) => !/^[23]/.test(c)).reduce((sum, [, n]) => sum + n, 0);
  if (other > 0) lines.push(`             ${int(other)} answer${other === 1 ? '' : 's'} not 2xx or 3xx`);
  lines.push(`  errors     ${r.errors.total === 0 ? 'none' : ERROR_KINDS.map((k) => `${k} ${int(r.errors[k])}`).join(', ')}`);
  if (r.abandoned > 0) lines.push(`  abandoned  ${int(r.abandoned)} in flight at the deadline (not counted)`);
  return `${lines.join('\n')}\n`;
}

/** SavedResultError is a --compare file that is not a result of this tool. */
export class SavedResultError extends Error {
  override readonly name = 'SavedResultError';
}

/** parseSavedResult checks that `text` is a --json document of this format and returns it. */
export function parseSavedResult(text: string, file: string): BenchResult {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new SavedResultError(`${file} is not JSON: ${(err as Error).message}`);
  }
  const o = doc as Partial<BenchResult> | null;
  if (typeof o !== 'object' || o === null || o.format !== RESULT_FORMAT) throw new SavedResultError(`${file} is not a flusso bench result (no "format": "${RESULT_FORMAT}"; write one with --json)`);
  const l = o.latencyMs as Partial<LatencySummary> | undefined;
  const e = o.errors as Partial<Record<string, unknown>> | undefined;
  const fine = typeof o.requestsPerSecond === 'number' && typeof l === 'object' && l !== null && PERCENTILES.every(([k]) => typeof l[k] === 'number') && typeof l.max === 'number' && typeof e === 'object' && e !== null && typeof e.total === 'number';
  if (!fine) throw new SavedResultError(`${file} is a flusso bench result with missing fields (requestsPerSecond, latencyMs.p50…p99_9, max, errors.total)`);
  return o as BenchResult;
}

/** formatComparison prints each headline figure of a saved run, this run, and the change. */
export function formatComparison(before: BenchResult, after: BenchResult, file: string): string {
  const rows: [string, number, number, 'higher' | 'lower', (n: number) => string][] = [
    ['req/s', before.requestsPerSecond, after.requestsPerSecond, 'higher', int],
    ...PERCENTILES.map(([k, p]): [string, number, number, 'lower', (n: number) => string] => [`p${p}`, before.latencyMs[k], after.latencyMs[k], 'lower', fmtMs]),
    ['max', before.latencyMs.max, after.latencyMs.max, 'lower', fmtMs],
    ['errors', before.errors.total, after.errors.total, 'lower', int],
  ];
  const lines = [`compared with ${file} (${before.startedAt}, ${before.url}):`, `  ${'figure'.padEnd(8)}${'before'.padStart(14)}${'now'.padStart(14)}${'change'.padStart(10)}`];
  for (const [name, was, now, better, fmt] of rows) {
    const change = was === 0 ? (now === 0 ? '0 %' : 'new') : `${now >= was ? '+' : ''}${(((now - was) / was) * 100).toFixed(1)} %`;
    const verdict = now === was ? '' : (now > was) === (better === 'higher') ? '  better' : '  worse';
    lines.push(`  ${name.padEnd(8)}${fmt(was).padStart(14)}${fmt(now).padStart(14)}${change.padStart(10)}${verdict}`);
  }
  const differs = (['connections', 'threads', 'rate', 'method'] as const).filter((k) => before.settings?.[k] !== after.settings[k]);
  if (before.url !== after.url) differs.unshift('url' as never);
  if (differs.length > 0) lines.push(`  note: the runs differ in ${differs.join(', ')}`);
  return `${lines.join('\n')}\n`;
}
