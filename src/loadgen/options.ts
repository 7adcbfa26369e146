/**
 * The command line of `flusso bench URL`: parsing, validation (every problem is collected and
 * reported at once, exit 2) and the help text. Reading files (--body @FILE, --compare FILE)
 * happens in cli.ts, so this module stays pure.
 */

/** BenchOptions is a validated `flusso bench` command line. */
export interface BenchOptions {
  readonly url: URL;
  readonly connections: number;
  readonly threads: number;
  /** Run length in ms; null when only --requests bounds the run. */
  readonly durationMs: number | null;
  /** Requests to complete (answered or failed); null when only --duration bounds the run. */
  readonly requests: number | null;
  /** Constant total rate in requests/s (latency then adds the wait past each request's intended send time); null: as fast as answers come. */
  readonly rate: number | null;
  readonly method: string;
  /** Header lines as given, `Name: value`, in order. */
  readonly headers: readonly string[];
  /** The body: inline text, or `@FILE` (read by the caller); null: none. */
  readonly body: string | null;
  readonly timeoutMs: number;
  readonly jsonFile: string | null;
  readonly compareFile: string | null;
  /** Live progress on stderr: null means only when stderr is a terminal. */
  readonly progress: boolean | null;
}

/** BenchCommand is what the command line asks for. */
export type BenchCommand = { readonly kind: 'help' } | { readonly kind: 'run'; readonly options: BenchOptions };

/** BenchUsageError is a bad command line; its message lists every problem. */
export class BenchUsageError extends Error {
  override readonly name = 'BenchUsageError';
}

const DEFAULT_DURATION_MS = 10_000;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

type Flag = 'connections' | 'threads' | 'duration' | 'requests' | 'rate' | 'method' | 'header' | 'body' | 'timeout' | 'json' | 'compare';

const SHORT: Readonly<Record<string, Flag>> = { c: 'connections', t: 'threads', d: 'duration', n: 'requests', R: 'rate', m: 'method', H: 'header', b: 'body' };
const LONG: ReadonlySet<string> = new Set<Flag>(['connections', 'threads', 'duration', 'requests', 'rate', 'method', 'header', 'body', 'timeout', 'json', 'compare']);

/** BENCH_HELP is the text of `flusso bench --help`. */
export const BENCH_HELP = `Usage: flusso bench URL [options]

HTTP/1.1 keep-alive load generator (docs/load-testing.md). Opens the connections, sends the
request on each as soon as the previous answer ends (or on a constant schedule with --rate),
shows progress once a second on stderr, and prints throughput, latency percentiles, statuses
and errors by kind at the end.

  -c, --connections N   open connections, split over the threads (default 50)
  -t, --threads N       load threads (worker_threads; default 1)
  -d, --duration TIME   run length: 30, 30s, 500ms, 2m (default 10s unless --requests is given)
  -n, --requests N      stop after N requests have ended (answered or failed); with --duration,
                        whichever comes first
  -R, --rate N          constant total rate in requests/s; latency then adds the time a request
                        waited past its intended send time (corrected for coordinated omission,
                        as wrk2 does), and the service time alone is shown beside it
  -m, --method NAME     request method (default GET)
  -H, --header 'N: V'   request header, repeatable (Host defaults to the URL's)
  -b, --body DATA       request body: the text DATA, or @FILE for a file's bytes
      --timeout TIME    a request (or connect) not answered within TIME fails (default 10s)
      --json FILE       also write the results as JSON to FILE (- for stdout)
      --compare FILE    print the change against a run saved with --json
      --progress        progress lines even when stderr is not a terminal
      --no-progress     no progress lines
  -h, --help            this text

Errors by kind: connect (refused, unreachable, connect timeout), timeout (no complete answer
in --timeout), reset (the connection closed or failed before the answer ended), parse (bytes
that are not an HTTP/1.x response). Answers of every status count as answered and are listed
by status.

Example: flusso bench http://127.0.0.1:8080/api -c 100 -d 30s -H 'Host: shop.localtest.me'
`;

/** parseBenchArgs reads `flusso bench` arguments (after the word bench). */
export function parseBenchArgs(argv: readonly string[]): BenchCommand {
  const issues: string[] = [];
  const given = new Map<Flag, string[]>();
  const positional: string[] = [];
  let progress: boolean | null = null;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '-h' || arg === '--help') return { kind: 'help' };
    if (arg === '--progress' || arg === '--no-progress') {
      progress = arg === '--progress';
      continue;
    }
    let flag: Flag | undefined;
    let value: string | undefined;
    const long = /^--([a-z-]+)(?:=(.*))?$/s.exec(arg);
    const short = /^-([A-Za-z])(.*)$/s.exec(arg);
    if (long) {
      if (!LONG.has(long[1] ?? '')) {
        issues.push(`unknown option ${arg}`);
        continue;
      }
      flag = long[1] as Flag;
      value = long[2];
    } else if (short && !/^-\d/.test(arg)) {
      flag = SHORT[short[1] ?? ''];
      if (flag === undefined) {
        issues.push(`unknown option -${short[1]}`);
        continue;
      }
      value = short[2] === '' ? undefined : short[2];
    } else {
      positional.push(arg);
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= argv.length) {
        issues.push(`${arg} needs a value`);
        continue;
      }
      value = argv[++i] ?? '';
    }
    const list = given.get(flag) ?? [];
    list.push(value);
    given.set(flag, list);
  }

  const last = (f: Flag): string | undefined => given.get(f)?.at(-1);
  const url = parseTarget(positional, issues);
  const connections = positiveInt(last('connections'), 50, '--connections', issues);
  const threads = positiveInt(last('threads'), 1, '--threads', issues);
  if (threads > connections) issues.push(`--threads ${threads} is more than --connections ${connections}: each thread needs at least one connection`);
  const requests = last('requests') === undefined ? null : positiveInt(last('requests'), 0, '--requests', issues);
  const durationGiven = last('duration');
  const durationMs = durationGiven === undefined ? (requests === null ? DEFAULT_DURATION_MS : null) : parseTime(durationGiven, '--duration', issues);
  const rate = last('rate') === undefined ? null : positiveNumber(last('rate'), '--rate', issues);
  const timeoutMs = parseTime(last('timeout') ?? '10s', '--timeout', issues);
  const method = last('method') ?? 'GET';
  if (!TOKEN.test(method)) issues.push(`--method ${JSON.stringify(method)} is not an HTTP method token`);
  if (method.toUpperCase() === 'CONNECT') issues.push('--method CONNECT is not supported (the answer is a tunnel, not a response)');
  const headers = given.get('header') ?? [];
  for (const h of headers) {
    const colon = h.indexOf(':');
    const name = colon === -1 ? '' : h.slice(0, colon);
    if (!TOKEN.test(name)) issues.push(`--header ${JSON.stringify(h)} is not "Name: value"`);
    else if (/[\r\n\0]/.test(h)) issues.push(`--header ${JSON.stringify(h)} holds a CR, LF or NUL`);
    else if (/^(content-length|transfer-encoding|connection)$/i.test(name)) issues.push(`--header ${name} is set by the load generator (Content-Length from --body; connections stay open)`);
  }
  const body = last('body') ?? null;
  if (body === '@') issues.push('--body @ needs a file name (@FILE)');

  if (issues.length > 0 || url === null) throw new BenchUsageError(`flusso bench: ${issues.join('\n  ')}\nRun "flusso bench --help" for the options.`);
  return {
    kind: 'run',
    options: {
      url,
      connections,
      threads,
      durationMs,
      requests,
      rate,
      method,
      headers,
      body,
      timeoutMs,
      jsonFile: last('json') ?? null,
      compareFile: last('compare') ?? null,
      progress,
    },
  };
}

function parseTarget(positional: readonly string[], issues: string[]): URL | null {
  if (positional.length !== 1) {
    issues.push(positional.length === 0 ? 'the target URL is missing (flusso bench http://HOST:PORT/PATH)' : `one target URL expected, got ${positional.length}: ${positional.join(' ')}`);
    return null;
  }
  const text = positional[0] ?? '';
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    issues.push(`${JSON.stringify(text)} is not a URL (flusso bench http://HOST:PORT/PATH)`);
    return null;
  }
  if (url.protocol !== 'http:') {
    issues.push(`${url.protocol}// is not supported: the load generator speaks plain HTTP/1.1 (http://)`);
    return null;
  }
  if (url.username !== '' || url.password !== '') issues.push('credentials in the URL are not sent: use -H "Authorization: ..."');
  return url;
}

function positiveInt(value: string | undefined, fallback: number, flag: string, issues: string[]): number {
  if (value === undefined) return fallback;
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) {
    issues.push(`${flag} ${JSON.stringify(value)} is not a whole number of at least 1`);
    return fallback || 1;
  }
  return n;
}

function positiveNumber(value: string | undefined, flag: string, issues: string[]): number {
  const n = value !== undefined && /^\d+(\.\d+)?$/.test(value) ? Number(value) : NaN;
  if (!(n > 0)) {
    issues.push(`${flag} ${JSON.stringify(value)} is not a number above 0`);
    return 1;
  }
  return n;
}

/** parseTime reads 30, 30s, 500ms, 2m or 1h into milliseconds. */
export function parseTime(value: string, flag: string, issues: string[]): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value);
  const ms = m ? Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'] : NaN;
  if (!(ms >= 1)) {
    issues.push(`${flag} ${JSON.stringify(value)} is not a time of at least 1ms (30, 30s, 500ms, 2m)`);
    return 1000;
  }
  return Math.round(ms);
}
