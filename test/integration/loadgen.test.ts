/**
 * `flusso bench URL` through the built CLI (bin/flusso): request counts and statuses against a
 * real nginx and a node:http backend that varies its answers, errors by kind against targets
 * that refuse, reset, stall or speak garbage, the --json document, --compare, --rate, the
 * progress lines, and bad input refused before any load is sent. Loopback only, bounded by
 * --requests or a short --duration.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { directRead, directWriteAvailable } from '../../src/loadgen/direct-write.js';
import type { BenchResult } from '../../src/loadgen/report.js';
import { FLUSSO_BIN, REPO_ROOT } from '../helpers/flusso.js';
import { freePort } from '../helpers/ports.js';
import { startNginx, type Nginx } from '../helpers/system.js';

interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** bench runs `bin/flusso bench ...args` to completion (60 s cap). */
function bench(args: readonly string[]): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FLUSSO_BIN, 'bench', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** benchJson runs bench with `--json -` and returns the parsed document (and the run). */
async function benchJson(args: readonly string[]): Promise<{ run: CliRun; result: BenchResult }> {
  const run = await bench([...args, '--json', '-']);
  expect(run.code, run.stderr).toBe(0);
  return { run, result: JSON.parse(run.stdout) as BenchResult };
}

let dir: string;
let nginx: Nginx;
let nginxPort: number;
const servers: (Server | HttpServer)[] = [];

function listen<T extends Server | HttpServer>(server: T): Promise<number> {
  servers.push(server);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

/** A raw TCP target: `onData` decides what each connection gets. */
function rawTarget(onData: (socket: Socket) => void): Promise<number> {
  return listen(createServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', () => onData(socket));
  }));
}

/** The varying backend: 200 and 503 in turn, chunked; every 10th answer closes its connection. */
const seen: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[] = [];
let varyingPort: number;
let answeredByVarying = 0;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'flusso-loadgen-'));
  nginxPort = await freePort();
  writeFileSync(
    path.join(dir, 'nginx.conf'),
    `daemon off; worker_processes 1; error_log ${dir}/error.log warn; pid ${dir}/nginx.pid;
events { worker_connections 1024; }
http { access_log off; client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  server { listen 127.0.0.1:${nginxPort}; location = /ok { return 200 "hello from nginx\\n"; } location / { return 404; } } }
`,
  );
  nginx = await startNginx(dir, nginxPort);
  varyingPort = await listen(
    createHttpServer((req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (d: string) => (body += d));
      req.on('end', () => {
        const i = answeredByVarying++;
        seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
        res.statusCode = i % 2 === 0 ? 200 : 503;
        if (i % 10 === 9) res.setHeader('Connection', 'close');
        res.write('part one, ');
        res.end('part two');
      });
    }),
  );
});

afterAll(async () => {
  await nginx?.stop();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  rmSync(dir, { recursive: true, force: true });
});

describe('flusso bench', () => {
  it('against nginx: every request of --requests answered 200 over keep-alive, and the summary says so', async () => {
    const { run, result } = await benchJson([`http://127.0.0.1:${nginxPort}/ok`, '-n', '2000', '-c', '8']);
    expect(result.answered).toBe(2000);
    expect(result.statuses).toEqual({ '200': 2000 });
    expect(result.errors).toEqual({ connect: 0, timeout: 0, reset: 0, parse: 0, total: 0 });
    expect(result.connectionsOpened).toBe(8);
    expect(result.latencyMs.count).toBe(2000);
    expect(result.bytesRead).toBeGreaterThan(2000 * 'hello from nginx\n'.length);
    expect(run.stderr).toMatch(/requests +2,000 answered in [\d.]+ s: [\d,]+ req\/s/);
    expect(run.stderr).toMatch(/latency +p50 \S+ (µs|ms)  p90 .* p99 .* p99\.9 /);
    expect(run.stderr).toMatch(/statuses +200: 2,000/);
    expect(run.stderr).toMatch(/errors +none/);
  });

  it('counts answers by status, reads chunked bodies, reconnects after Connection: close, and sends method, headers and body', async () => {
    const bodyFile = path.join(dir, 'body.json');
    writeFileSync(bodyFile, '{"order":42}');
    const before = seen.length;
    answeredByVarying = 0;
    const { result } = await benchJson([`http://127.0.0.1:${varyingPort}/api?x=1`, '-n', '100', '-c', '2', '-m', 'POST', '-H', 'Host: shop.example', '-H', 'X-Test: yes', '-b', `@${bodyFile}`]);
    expect(result.answered).toBe(100);
    expect(result.statuses).toEqual({ '200': 50, '503': 50 });
    expect(result.errors.total).toBe(0);
    // Answers 10, 20, … 100 closed their connection: each but the last was replaced by a new one.
    expect(result.connectionsOpened).toBe(2 + 9);
    const got = seen.slice(before);
    expect(got).toHaveLength(100);
    expect(got[0]).toMatchObject({ method: 'POST', url: '/api?x=1', body: '{"order":42}', headers: { host: 'shop.example', 'x-test': 'yes', 'content-length': '12' } });
  });

  it('a 2 MiB body (more than one write can take) arrives whole with every request', async () => {
    const bodyFile = path.join(dir, 'big.bin');
    writeFileSync(bodyFile, Buffer.alloc(2 * 1024 * 1024, 'b'));
    const before = seen.length;
    const { result } = await benchJson([`http://127.0.0.1:${varyingPort}/upload`, '-n', '6', '-c', '2', '-m', 'PUT', '-b', `@${bodyFile}`]);
    expect(result.answered).toBe(6);
    expect(result.errors.total).toBe(0);
    expect(result.settings.bodyBytes).toBe(2 * 1024 * 1024);
    expect(seen.slice(before).map((r) => r.body.length)).toEqual(Array(6).fill(2 * 1024 * 1024));
  });

  it('writes go straight to the TCP handle on this Node.js (the fast path docs/load-testing.md measures)', () => {
    expect(directWriteAvailable).toBe(true);
  });

  it('reads come straight from the TCP handle on this Node.js, and the end of the stream still closes the socket', async () => {
    const server = createServer((s) => s.end('hello, reader'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const buffer = Buffer.alloc(1024);
      const viaOnread: string[] = [];
      const direct: string[] = [];
      let installed = false;
      const socket = connect({ host: '127.0.0.1', port, onread: { buffer, callback: (n: number, b: Uint8Array) => (viaOnread.push(Buffer.from(b.subarray(0, n)).toString()), true) } });
      socket.on('connect', () => {
        installed = directRead(socket, buffer, (n, b) => direct.push(Buffer.from(b.subarray(0, n)).toString()));
      });
      await new Promise<void>((resolve, reject) => {
        socket.on('close', () => resolve());
        socket.on('error', reject);
      });
      expect(installed).toBe(true);
      expect(direct.join('')).toBe('hello, reader');
      expect(viaOnread).toEqual([]);
    } finally {
      server.close();
    }
  });

  it('a refused port: every request is a connect error, nothing answered', async () => {
    const port = await freePort();
    const { run, result } = await benchJson([`http://127.0.0.1:${port}/`, '-n', '30', '-c', '3']);
    expect(result.answered).toBe(0);
    expect(result.errors).toEqual({ connect: 30, timeout: 0, reset: 0, parse: 0, total: 30 });
    expect(result.statuses).toEqual({});
    expect(run.stderr).toMatch(/errors +connect 30, timeout 0, reset 0, parse 0/);
    expect(run.stderr).toMatch(/latency +none \(no answers\)/);
    expect(run.stderr).toMatch(/statuses +none/);
  });

  it('a target that closes on the request: reset errors', async () => {
    const port = await rawTarget((s) => s.destroy());
    const { result } = await benchJson([`http://127.0.0.1:${port}/`, '-n', '20', '-c', '2']);
    expect(result.errors).toEqual({ connect: 0, timeout: 0, reset: 20, parse: 0, total: 20 });
  });

  it('a target that never answers: timeout errors after --timeout', async () => {
    const port = await rawTarget(() => {});
    const { result } = await benchJson([`http://127.0.0.1:${port}/`, '-n', '4', '-c', '2', '--timeout', '200ms']);
    expect(result.errors).toEqual({ connect: 0, timeout: 4, reset: 0, parse: 0, total: 4 });
    expect(result.answered).toBe(0);
  });

  it('a target that answers garbage, or a truncated body: parse and reset errors', async () => {
    const garbage = await rawTarget((s) => s.end('SSH-2.0-OpenSSH\r\n\r\n'));
    expect((await benchJson([`http://127.0.0.1:${garbage}/`, '-n', '6', '-c', '2'])).result.errors).toEqual({ connect: 0, timeout: 0, reset: 0, parse: 6, total: 6 });
    const short = await rawTarget((s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this'));
    expect((await benchJson([`http://127.0.0.1:${short}/`, '-n', '6', '-c', '2'])).result.errors).toEqual({ connect: 0, timeout: 0, reset: 6, parse: 0, total: 6 });
  });

  it('--json FILE writes the whole document; --compare prints each figure against it', async () => {
    const saved = path.join(dir, 'before.json');
    const first = await bench([`http://127.0.0.1:${nginxPort}/ok`, '-n', '500', '-c', '4', '--json', saved]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/statuses +200: 500/);
    const doc = JSON.parse(readFileSync(saved, 'utf8')) as BenchResult;
    expect(doc).toMatchObject({
      format: 'flusso-bench/1',
      url: `http://127.0.0.1:${nginxPort}/ok`,
      settings: { connections: 4, threads: 1, durationMs: null, requests: 500, rate: null, method: 'GET', headers: [], bodyBytes: 0, timeoutMs: 10_000 },
      answered: 500,
      statuses: { '200': 500 },
      errors: { connect: 0, timeout: 0, reset: 0, parse: 0, total: 0 },
      serviceTimeMs: null,
      abandoned: 0,
    });
    for (const k of ['p50', 'p90', 'p99', 'p99_9', 'min', 'max', 'mean', 'stdev'] as const) expect(typeof doc.latencyMs[k]).toBe('number');
    expect(doc.latencyMs.p50).toBeLessThanOrEqual(doc.latencyMs.p99);
    expect(doc.requestsPerSecond).toBeGreaterThan(0);

    const second = await bench([`http://127.0.0.1:${nginxPort}/nope`, '-n', '200', '-c', '2', '--compare', saved]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain(`compared with ${saved}`);
    for (const row of ['req/s', 'p50', 'p90', 'p99', 'p99.9', 'max', 'errors']) expect(second.stdout).toMatch(new RegExp(`\\n  ${row.replace('.', '\\.')} +\\S+.* +\\S+.* +(\\S+ %|new)`));
    expect(second.stdout).toMatch(/note: the runs differ in url, connections/);
    expect(second.stdout).toMatch(/statuses +404: 200/);
  });

  it('bad input exits 2 with the reason and sends nothing: a bad --compare file, a bad option, an unreadable body', async () => {
    const before = seen.length;
    const notResult = path.join(dir, 'not-a-result.json');
    writeFileSync(notResult, '{"hello": 1}');
    const target = `http://127.0.0.1:${varyingPort}/`;
    const cases: [string[], RegExp][] = [
      [[target, '--compare', notResult], /is not a flusso bench result/],
      [[target, '--compare', path.join(dir, 'missing.json')], /cannot read the --compare file .*missing\.json/],
      [[target, '-b', `@${path.join(dir, 'nobody.bin')}`], /cannot read the --body file/],
      [[target, '--json', path.join(dir, 'no/such/dir/out.json')], /cannot write the --json file .*its directory does not exist/],
      [[target, '-c', 'many'], /--connections "many" is not a whole number/],
    ];
    for (const [args, message] of cases) {
      const run = await bench(args);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr).toMatch(message);
    }
    expect(seen.length).toBe(before);
  });

  it('--rate sends on a schedule and reports the service time beside the corrected latency', async () => {
    const { run, result } = await benchJson([`http://127.0.0.1:${nginxPort}/ok`, '-R', '400', '-n', '200', '-c', '4']);
    expect(result.settings.rate).toBe(400);
    expect(result.answered).toBe(200);
    expect(result.latencyMs.count).toBe(200);
    expect(result.serviceTimeMs?.count).toBe(200);
    // Each request's latency counts from its intended send time or, if it went out earlier, from
    // its send: never less than its service time, so no percentile is either.
    const service = result.serviceTimeMs as NonNullable<BenchResult['serviceTimeMs']>;
    for (const k of ['p50', 'p90', 'p99', 'p99_9', 'max'] as const) expect(result.latencyMs[k], k).toBeGreaterThanOrEqual(service[k]);
    expect(run.stderr).toMatch(/latency\* +p50/);
    expect(run.stderr).toMatch(/service +p50/);
    expect(run.stderr).toContain('coordinated omission corrected');
  });

  it('--rate counts the wait a slow target imposes on requests behind it (coordinated omission), not only the service time', async () => {
    // One connection asked for 100 req/s (a request every 10 ms) from a target that answers each
    // after 40 ms: the k-th request goes out about 30 ms × k late, a wait the service time hides.
    const slow = await listen(createHttpServer((_req, res) => void setTimeout(() => res.end('slow'), 40)));
    const { result } = await benchJson([`http://127.0.0.1:${slow}/`, '-R', '100', '-n', '20', '-c', '1']);
    const service = result.serviceTimeMs as NonNullable<BenchResult['serviceTimeMs']>;
    expect(result.answered).toBe(20);
    expect(service.p90).toBeGreaterThanOrEqual(40);
    // The 18th request alone waited about 17 × 30 ms past its slot.
    expect(result.latencyMs.p90).toBeGreaterThan(service.p90 + 300);
  });

  it('--progress prints a line a second on stderr; without it, a non-terminal stderr gets none', async () => {
    const target = `http://127.0.0.1:${nginxPort}/ok`;
    const withProgress = await bench([target, '-d', '2200ms', '-c', '2', '-R', '200', '--progress']);
    expect(withProgress.code, withProgress.stderr).toBe(0);
    const lines = withProgress.stderr.split('\n').filter((l) => /^ +\d+ s +[\d,]+ req\/s +p99 +\S+ (µs|ms|s) +errors 0 +answered [\d,]+$/.test(l));
    expect(lines.length, withProgress.stderr).toBeGreaterThanOrEqual(2);
    const quiet = await bench([target, '-n', '50', '-c', '2']);
    expect(quiet.stderr).not.toMatch(/req\/s +p99/);
  });

  it('Ctrl-C (SIGINT) stops the run early and still prints what was measured', async () => {
    const child = spawn(process.execPath, [FLUSSO_BIN, 'bench', `http://127.0.0.1:${nginxPort}/ok`, '-d', '60s', '-c', '2', '-R', '100', '--progress', '--json', '-'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    // The latch: the first progress line, so the run is under way when the signal comes.
    await new Promise<void>((resolve) =>
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
        if (/req\/s +p99/.test(stderr)) resolve();
      }),
    );
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(stderr).toContain('flusso bench: interrupted; stopping');
    const result = JSON.parse(stdout) as BenchResult;
    expect(result.answered).toBeGreaterThan(0);
    expect(result.elapsedMs).toBeLessThan(60_000);
    expect(result.errors.total).toBe(0);
  });

  it('two threads split the connections and requests and the results merge', async () => {
    const { result } = await benchJson([`http://127.0.0.1:${nginxPort}/ok`, '-n', '1001', '-c', '5', '-t', '2']);
    expect(result.answered).toBe(1001);
    expect(result.latencyMs.count).toBe(1001);
    expect(result.connectionsOpened).toBe(5);
    expect(result.settings.threads).toBe(2);
  });

  it('--help prints the options and exits 0', async () => {
    const run = await bench(['--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Usage: flusso bench URL \[options\]/);
    for (const flag of ['--connections', '--threads', '--duration', '--requests', '--rate', '--method', '--header', '--body', '--timeout', '--json', '--compare', '--progress']) expect(run.stdout).toContain(flag);
  });

  it('bench/load/loadgen-vs-wrk.mjs --help says what it measures and starts nothing', async () => {
    const run = await new Promise<CliRun>((resolve) => {
      const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bench/load/loadgen-vs-wrk.mjs'), '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.once('close', (code) => resolve({ code, stdout, stderr: '' }));
    });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^usage: node bench\/load\/loadgen-vs-wrk\.mjs \[options\]/);
    expect(run.stdout).toContain('wrk -t1');
  });

  it('flusso --help names the bench subcommand', async () => {
    const run = await new Promise<CliRun>((resolve) => {
      const child = spawn(process.execPath, [FLUSSO_BIN, '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.once('close', (code) => resolve({ code, stdout, stderr: '' }));
    });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Usage: flusso \[flags\]\n +flusso bench URL \[options\]/);
  });
});
