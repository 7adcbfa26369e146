// Issue 16 item 5: the Config type is derived from the OPTIONS table, and a setting keeps its
// name from the flag to the worker.
import { describe, expect, expectTypeOf, it } from 'vitest';
import { isConfig, parseCommandLine, type Config } from '../../../src/primary/config.js';
import { OPTIONS, settingName, type OptionSpec } from '../../../src/primary/options.js';
import { workerConfigFor } from '../../../src/primary/worker-config.js';

const ctx = { env: {}, cpus: 2, demoManifests: '/pkg/demo/manifests', readFile: (): string => '' };

function run(argv: string[]): Config {
  const req = parseCommandLine(argv, ctx);
  if (req.kind !== 'run') throw new Error(`expected run, got ${req.kind}`);
  return req.config;
}

const TABLE: readonly OptionSpec[] = OPTIONS;

describe('Config derived from the OPTIONS table', () => {
  it('has every setting with a default under its name, and nothing the table does not name', () => {
    const c: Readonly<Record<string, unknown>> = run([]);
    const names = new Set(['accessLogEvery', 'inCluster']);
    for (const spec of TABLE) {
      if (spec.cli === true || spec.key === 'accessLog') continue;
      names.add(settingName(spec));
      if (spec.default !== undefined) expect(c[settingName(spec)], spec.key).toBeDefined();
      else expect(c[settingName(spec)], spec.key).toBeUndefined();
    }
    expect(Object.keys(c).filter((k) => !names.has(k))).toEqual([]);
  });

  it('types each setting from its table entry', () => {
    expectTypeOf<Config['upstreamResponseTimeoutMs']>().toEqualTypeOf<number>();
    expectTypeOf<Config['logLevel']>().toEqualTypeOf<'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace'>();
    expectTypeOf<Config['source']>().toEqualTypeOf<'file' | 'kubernetes'>();
    expectTypeOf<Config['watchNamespace']>().toEqualTypeOf<readonly string[]>();
    expectTypeOf<Config['http2']>().toEqualTypeOf<boolean>();
    expectTypeOf<Config['kubeconfig']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<Config>().not.toHaveProperty('help');
    expectTypeOf<Config>().not.toHaveProperty('accessLog');
  });

  it.each([
    { name: 'a number where a boolean belongs', change: { metrics: 1 } },
    { name: 'an enum value the table does not list', change: { logLevel: 'loud' } },
    { name: 'a setting with a default missing', change: { drainTimeoutMs: undefined } },
    { name: 'a duration under its key without Ms', change: { drainTimeout: 30_000 } },
    { name: 'a list that is a string', change: { watchNamespace: 'a,b' } },
    { name: 'a derived value of the wrong type', change: { inCluster: 'yes' } },
  ])('isConfig refuses $name', ({ change }) => {
    const good = { ...run([]) };
    expect(isConfig(good)).toBe(true);
    const bad: Record<string, unknown> = { ...good, ...change };
    for (const [k, v] of Object.entries(change)) if (v === undefined) delete bad[k];
    expect(isConfig(bad)).toBe(false);
  });
});

describe('workerConfigFor', () => {
  it('passes the upstream timeouts under their flags\' names', () => {
    const w = workerConfigFor(run(['--upstream-response-timeout', '3s', '--upstream-idle-timeout', '7s']), 'flusso');
    expect(w).toMatchObject({ upstreamResponseTimeoutMs: 3000, upstreamIdleTimeoutMs: 7000 });
    expect(w).not.toHaveProperty('upstreamHeadersTimeoutMs');
    expect(w).not.toHaveProperty('upstreamBodyTimeoutMs');
  });

  it('gives every worker setting the value of the Config setting of the same name', () => {
    const c: Readonly<Record<string, unknown>> = run(['--max-request-fields', '50', '--access-log', 'sample:7', '--cache-lock-timeout', '2s']);
    const w = workerConfigFor(run(['--max-request-fields', '50', '--access-log', 'sample:7', '--cache-lock-timeout', '2s']), 'flusso');
    const grouped = ['https', 'logFd', 'serverHeader', 'rateLimit'];
    for (const [name, value] of Object.entries(w)) if (!grouped.includes(name)) expect([name, value]).toEqual([name, c[name]]);
    expect(w).toMatchObject({ maxRequestFields: 50, accessLogEvery: 7, cacheLockTimeoutMs: 2000 });
  });

  it('gives the workers the trusted-proxy settings only when one is on, PROXY protocol before the forwarded header', () => {
    expect(workerConfigFor(run([]), 'flusso')).not.toHaveProperty('clientAddress');
    expect(workerConfigFor(run(['--use-forwarded-headers', 'true', '--forwarded-for-header', 'CF-Connecting-IP', '--proxy-real-ip-cidr', '10.0.0.0/8,fd00::/8']), 'flusso').clientAddress).toEqual({
      source: 'header', header: 'cf-connecting-ip', passForwarded: true, computeFullForwardedFor: false, trusted: ['10.0.0.0/8', 'fd00::/8'],
    });
    expect(workerConfigFor(run(['--enable-real-ip', 'true']), 'flusso').clientAddress).toMatchObject({ source: 'header', passForwarded: false, trusted: ['0.0.0.0/0'] });
    expect(workerConfigFor(run(['--use-forwarded-headers', 'true', '--use-proxy-protocol', 'true']), 'flusso').clientAddress).toMatchObject({ source: 'proxy-protocol' });
    expect(workerConfigFor(run(['--compute-full-forwarded-for', 'true']), 'flusso').clientAddress).toMatchObject({ source: 'none', computeFullForwardedFor: true });
    // Another field name alone: the peer is the client, and X-Original-Forwarded-For carries that field.
    expect(workerConfigFor(run(['--forwarded-for-header', 'CF-Connecting-IP']), 'flusso').clientAddress).toMatchObject({ source: 'none', header: 'cf-connecting-ip', passForwarded: false });
  });

  it('refuses a --proxy-real-ip-cidr entry that is not a CIDR', () => {
    expect(() => run(['--proxy-real-ip-cidr', '10.0.0.0/8,10.0.0.0/40'])).toThrow('--proxy-real-ip-cidr: "10.0.0.0/40" is not a CIDR or an address');
  });

  it('gives the workers the rate-limit status and how many of them share each limit', () => {
    expect(workerConfigFor(run(['--workers', '3']), 'flusso').rateLimit).toEqual({ status: 503, workers: 3 });
    expect(workerConfigFor(run(['--workers', '2', '--rate-limit-status', '429']), 'flusso').rateLimit).toEqual({ status: 429, workers: 2 });
    expect(() => run(['--rate-limit-status', '404'])).toThrow(/--rate-limit-status.*one of: 503, 429/);
  });

  it('groups the HTTPS settings and renders HSTS', () => {
    const w = workerConfigFor(run(['--https-port', '9443', '--https-redirect-port', '4443', '--hsts-preload', '--http2', 'off']), 'flusso');
    expect(w.https).toEqual({ port: 9443, address: '0.0.0.0', ciphers: expect.stringContaining('ECDHE'), hsts: 'max-age=31536000; includeSubDomains; preload', redirectPort: 4443, http2: false });
    expect(workerConfigFor(run(['--hsts=false']), 'flusso').https?.hsts).toBeNull();
  });
});
