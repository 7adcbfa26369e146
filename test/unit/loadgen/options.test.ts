/**
 * `flusso bench` command line: defaults, every option in its short and long form, the request
 * it builds, and bad input named in one error that lists every problem.
 */
import { describe, expect, it } from 'vitest';
import { buildRequest } from '../../../src/loadgen/cli.js';
import { BenchUsageError, parseBenchArgs, type BenchOptions } from '../../../src/loadgen/options.js';

function run(argv: string[]): BenchOptions {
  const cmd = parseBenchArgs(argv);
  if (cmd.kind !== 'run') throw new Error('expected a run');
  return cmd.options;
}

describe('parseBenchArgs', () => {
  it('defaults: 50 connections, 1 thread, 10 s, GET, 10 s timeout, progress only on a terminal', () => {
    const o = run(['http://127.0.0.1:8080/x?y=1']);
    expect(o).toMatchObject({ connections: 50, threads: 1, durationMs: 10_000, requests: null, rate: null, method: 'GET', headers: [], body: null, timeoutMs: 10_000, jsonFile: null, compareFile: null, progress: null });
    expect(o.url.href).toBe('http://127.0.0.1:8080/x?y=1');
  });

  it('reads short, long and --flag=value forms; --requests alone has no duration bound', () => {
    const o = run(['-c', '8', '--threads=2', '-n100', '-R', '250.5', '-m', 'POST', '-H', 'Host: a.example', '--header', 'X-A: 1', '-b', 'x=1', '--timeout', '500ms', '--json', 'out.json', '--compare', 'old.json', '--no-progress', 'http://localhost/']);
    expect(o).toMatchObject({ connections: 8, threads: 2, requests: 100, durationMs: null, rate: 250.5, method: 'POST', headers: ['Host: a.example', 'X-A: 1'], body: 'x=1', timeoutMs: 500, jsonFile: 'out.json', compareFile: 'old.json', progress: false });
    expect(run(['http://h/', '-d', '2m', '-n', '5'])).toMatchObject({ durationMs: 120_000, requests: 5 });
    expect(run(['http://h/', '-d', '3'])).toMatchObject({ durationMs: 3000 });
  });

  it('-h and --help ask for the help text', () => {
    expect(parseBenchArgs(['-h']).kind).toBe('help');
    expect(parseBenchArgs(['http://h/', '--help']).kind).toBe('help');
  });

  it('lists every problem of a bad command line at once', () => {
    let error: unknown;
    try {
      parseBenchArgs(['https://h/', '-c', '0', '-t', 'x', '-d', '10q', '-R', '-3', '--timeout', '0', '-H', 'no colon', '-H', 'Content-Length: 5', '-m', 'GE T', '--bogus', '-z']);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(BenchUsageError);
    const message = (error as Error).message;
    for (const part of ['https:// is not supported', '--connections "0"', '--threads "x"', '--duration "10q"', '--rate "-3"', '--timeout "0"', '--header "no colon"', '--header Content-Length is set by the load generator', '--method "GE T"', 'unknown option --bogus', 'unknown option -z', 'flusso bench --help'])
      expect(message).toContain(part);
  });

  it('refuses a missing or second URL, more threads than connections, and an option without its value', () => {
    expect(() => parseBenchArgs([])).toThrow(/target URL is missing/);
    expect(() => parseBenchArgs(['http://a/', 'http://b/'])).toThrow(/one target URL expected, got 2/);
    expect(() => parseBenchArgs(['http://a/', '-c', '2', '-t', '3'])).toThrow(/--threads 3 is more than --connections 2/);
    expect(() => parseBenchArgs(['http://a/', '-c'])).toThrow(/-c needs a value/);
    expect(() => parseBenchArgs(['not a url'])).toThrow(/is not a URL/);
  });
});

describe('buildRequest', () => {
  it('writes the request line, Host from the URL, the headers as given, and Content-Length for a body', () => {
    const o = run(['http://127.0.0.1:8080/p?q=1', '-m', 'PUT', '-H', 'X-A:  1 ', '-H', 'Accept: */*']);
    expect(buildRequest(o, Buffer.from('abc')).toString('latin1')).toBe('PUT /p?q=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nX-A: 1\r\nAccept: */*\r\nContent-Length: 3\r\n\r\nabc');
  });

  it('a Host header replaces the URL\'s; GET without a body has no Content-Length, POST without one has 0', () => {
    expect(buildRequest(run(['http://127.0.0.1/', '-H', 'host: shop.example']), null).toString()).toBe('GET / HTTP/1.1\r\nhost: shop.example\r\n\r\n');
    expect(buildRequest(run(['http://127.0.0.1/', '-m', 'POST']), null).toString()).toBe('POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n');
  });
});
