import { describe, expect, it } from 'vitest';
import { helpText, parseBytes, parseCommandLine, parseDuration, type Config, type ConfigContext } from '../../../src/primary/config.js';
import { IngressError } from '../../../src/shared/errors.js';
import { OPTIONS } from '../../../src/primary/options.js';

const ctx = (env: Record<string, string> = {}, files: Record<string, string> = {}): ConfigContext => ({
  env,
  cpus: 2,
  demoManifests: '/pkg/demo/manifests',
  readFile: (p) => {
    const text = files[p];
    if (text === undefined) throw new Error(`ENOENT: no such file ${p}`);
    return text;
  },
});

function run(argv: string[], env: Record<string, string> = {}, files: Record<string, string> = {}): Config {
  const req = parseCommandLine(argv, ctx(env, files));
  if (req.kind !== 'run') throw new Error(`expected run, got ${req.kind}`);
  return req.config;
}

function failure(argv: string[], env: Record<string, string> = {}, files: Record<string, string> = {}): IngressError {
  try {
    parseCommandLine(argv, ctx(env, files));
  } catch (err) {
    if (err instanceof IngressError) return err;
    throw err;
  }
  throw new Error('expected parseCommandLine to throw');
}

const DEFAULTS: Config = {
  source: 'file',
  manifests: '/pkg/demo/manifests',
  httpPort: 8080,
  httpAddress: '0.0.0.0',
  httpsPort: 8443,
  httpsAddress: '0.0.0.0',
  sslCiphers: 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305',
  hsts: true,
  hstsMaxAge: 31536000,
  hstsIncludeSubdomains: true,
  hstsPreload: false,
  httpsRedirectPort: 443,
  http2: true,
  adminPort: 8081,
  adminAddress: '127.0.0.1',
  workers: 2,
  spareWorker: true,
  maxRequestBodyBytes: 1024 * 1024,
  clientBodyBufferBytes: 16 * 1024,
  clientBodyTimeoutMs: 60_000,
  ingressClass: 'flusso',
  controllerName: 'flusso.dev/ingress-controller',
  watchIngressWithoutClass: false,
  keepAliveTimeoutMs: 75000,
  clientHeaderTimeoutMs: 60000,
  maxRequestHeadBytes: 32 * 1024,
  maxRequestTargetBytes: 8 * 1024,
  maxRequestFieldBytes: 8 * 1024,
  maxRequestFields: 98,
  upstreamConnectTimeoutMs: 5000,
  upstreamResponseTimeoutMs: 60000,
  upstreamIdleTimeoutMs: 60000,
  upstreamKeepAliveTimeoutMs: 4000,
  upstreamMaxConnections: 128,
  drainTimeoutMs: 30000,
  websocketIdleTimeoutMs: 60000,
  websocketMaxMessageBytes: 4 * 1024 * 1024,
  websocketMaxBufferedBytes: 1024 * 1024,
  logLevel: 'info',
  globalAllowedResponseHeaders: [],
  useForwardedHeaders: false,
  enableRealIp: false,
  forwardedForHeader: 'X-Forwarded-For',
  computeFullForwardedFor: false,
  proxyRealIpCidr: ['0.0.0.0/0'],
  useProxyProtocol: false,
  logFormat: 'json',
  accessLogEvery: 0,
  adminPublicRead: false,
  metrics: true,
  metricsIngressNginxCompat: false,
  metricsIngressNginxPath: false,
  cacheDefault: 'off',
  cacheMaxBytes: 128 * 1024 * 1024,
  cacheMaxObjectBytes: 8 * 1024 * 1024,
  cacheLockTimeoutMs: 5000,
  rateLimitStatus: '503',
  compileOffload: 'auto',
  inCluster: false,
  watchNamespace: [],
  publishStatusAddress: [],
  updateStatusOnShutdown: true,
  electionId: 'flusso-leader',
  electionNamespace: 'default',
  electionLeaseDurationMs: 15000,
  electionRenewDeadlineMs: 10000,
  electionRetryPeriodMs: 2000,
};

describe('parseCommandLine', () => {
  it('applies every default', () => {
    expect(run([])).toEqual(DEFAULTS);
  });

  it('defaults the source to kubernetes inside a pod', () => {
    expect(run([], { KUBERNETES_SERVICE_HOST: '10.0.0.1' }).source).toBe('kubernetes');
  });

  it('reads flags in both --flag value and --flag=value forms', () => {
    const c = run(['--http-port', '9000', '--admin-port=9001', '--workers', '3', '--watch-ingress-without-class', '--upstream-connect-timeout', '250ms', '--drain-timeout=2m']);
    expect(c).toEqual({ ...DEFAULTS, httpPort: 9000, adminPort: 9001, workers: 3, watchIngressWithoutClass: true, upstreamConnectTimeoutMs: 250, drainTimeoutMs: 120000 });
  });

  it('takes flags over env over the config file over defaults', () => {
    const files = { '/etc/f.yaml': 'httpPort: 7000\nadminPort: 7001\nlogLevel: debug\nworkers: 4\n' };
    const env = { FLUSSO_CONFIG: '/etc/f.yaml', FLUSSO_ADMIN_PORT: '7101', FLUSSO_LOG_LEVEL: 'warn' };
    const c = run(['--log-level', 'error'], env, files);
    expect([c.httpPort, c.adminPort, c.logLevel, c.workers]).toEqual([7000, 7101, 'error', 4]);
  });

  it('reads booleans from env and file', () => {
    expect(run([], { FLUSSO_WATCH_INGRESS_WITHOUT_CLASS: 'true' }).watchIngressWithoutClass).toBe(true);
    expect(run(['--config', '/c.yaml'], {}, { '/c.yaml': 'watchIngressWithoutClass: true' }).watchIngressWithoutClass).toBe(true);
    expect(run(['--watch-ingress-without-class=false']).watchIngressWithoutClass).toBe(false);
    expect(run(['--metrics', 'false', '--admin-public-read', 'true']).metrics).toBe(false);
    expect(run(['--metrics', 'false', '--admin-public-read', 'true']).adminPublicRead).toBe(true);
  });

  it('reads the Kubernetes flags and splits the comma lists', () => {
    const c = run(['--source', 'kubernetes', '--kubeconfig', '/k.yaml', '--watch-namespace', 'a,b', '--watch-label-selector', 'team=web', '--publish-status-address', '127.0.0.9,lb.example.com', '--election-id', 'x', '--election-lease-duration', '3s', '--election-renew-deadline', '2s', '--election-retry-period', '500ms', '--update-status-on-shutdown=false']);
    expect(c).toEqual({ ...DEFAULTS, source: 'kubernetes', kubeconfig: '/k.yaml', watchNamespace: ['a', 'b'], watchLabelSelector: 'team=web', publishStatusAddress: ['127.0.0.9', 'lb.example.com'], electionId: 'x', electionLeaseDurationMs: 3000, electionRenewDeadlineMs: 2000, electionRetryPeriodMs: 500, updateStatusOnShutdown: false });
  });

  it('takes KUBECONFIG, POD_NAME and POD_NAMESPACE from the environment, flags first', () => {
    const env = { KUBECONFIG: '/env.yaml', POD_NAME: 'flusso-abc', POD_NAMESPACE: 'ingress', KUBERNETES_SERVICE_HOST: '10.0.0.1' };
    expect(run([], env)).toMatchObject({ kubeconfig: '/env.yaml', podName: 'flusso-abc', podNamespace: 'ingress', electionNamespace: 'ingress', inCluster: true });
    expect(run(['--kubeconfig', '/flag.yaml', '--election-namespace', 'x'], env)).toMatchObject({ kubeconfig: '/flag.yaml', electionNamespace: 'x' });
  });

  it.each([
    { name: 'bad namespace list', argv: ['--watch-namespace', 'a,,B'], says: '--watch-namespace: "a,,B" is not allowed' },
    { name: 'bad publish service', argv: ['--publish-service', 'nons'], says: '--publish-service: "nons" is not allowed' },
    { name: 'renew deadline not below lease', argv: ['--election-renew-deadline', '15s'], says: '--election-renew-deadline must be shorter' },
    { name: 'retry period not below renew deadline', argv: ['--election-retry-period', '10s'], says: '--election-retry-period must be shorter' },
    { name: 'the ingress-nginx family without counting', argv: ['--metrics', 'false', '--metrics-ingress-nginx-compat'], says: '--metrics-ingress-nginx-compat needs --metrics true' },
    { name: 'the path label without the ingress-nginx family', argv: ['--metrics-ingress-nginx-path'], says: '--metrics-ingress-nginx-path labels the ingress-nginx family' },
  ])('rejects $name', ({ argv, says }) => {
    expect(failure(argv).message).toContain(says);
  });

  it.each([
    ['on', 1],
    ['off', 0],
    ['sample:10', 10],
  ])('reads --access-log %s as one in %i', (mode, every) => {
    expect(run(['--access-log', mode]).accessLogEvery).toBe(every);
  });

  it('reads the admin settings', () => {
    expect(run(['--admin-token', 'abcdefghijklmnop1234', '--admin-public-read', '--log-format', 'pretty'])).toMatchObject({ adminToken: 'abcdefghijklmnop1234', adminPublicRead: true, logFormat: 'pretty' });
    expect(failure(['--admin-token', 'short']).message).toContain('--admin-token: "short" is not allowed; 16 to 256 token characters');
    expect(failure(['--access-log', 'sample:0']).message).toContain('--access-log: "sample:0" is not allowed');
  });

  it('freezes the result deeply', () => {
    const c = run(['--watch-namespace', 'a,b']);
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.watchNamespace)).toBe(true);
    expect(() => (c.watchNamespace as string[]).push('c')).toThrow(TypeError);
  });

  it.each([
    { name: 'non-numeric port', argv: ['--http-port', 'abc'], says: '--http-port: "abc" is not allowed; an integer from 0 to 65535' },
    { name: 'port out of range', argv: ['--admin-port', '70000'], says: '--admin-port: "70000" is not allowed' },
    { name: 'unknown source', argv: ['--source', 'nope'], says: '--source: "nope" is not allowed; one of: file, kubernetes' },
    { name: 'duration without unit', argv: ['--drain-timeout', '30'], says: '--drain-timeout: "30" is not allowed; a duration' },
    { name: 'zero workers', argv: ['--workers', '0'], says: '--workers: "0" is not allowed; an integer from 1 to 256' },
    { name: 'bad log level', argv: ['--log-level', 'loud'], says: '--log-level: "loud" is not allowed' },
    { name: 'unknown flag', argv: ['--frobnicate'], says: 'unknown flag --frobnicate' },
    { name: 'missing value', argv: ['--http-port'], says: '--http-port needs a value' },
    { name: 'stray argument', argv: ['serve'], says: 'unexpected argument "serve"' },
    { name: 'admin and proxy on one port', argv: ['--http-port', '9000', '--admin-port', '9000'], says: '--admin-port must differ from --http-port' },
    { name: 'bad controller name', argv: ['--controller-name', 'nocontroller'], says: '--controller-name: "nocontroller" is not allowed' },
  ])('rejects $name, naming the flag', ({ argv, says }) => {
    const err = failure(argv);
    expect(err.code).toBe('ING_ERR_CONFIG_INVALID');
    expect(err.message).toContain(says);
  });

  it('reports every problem at once', () => {
    const err = failure(['--http-port', 'x', '--workers', '-1', '--source', 'y']);
    expect(err.message.match(/is not allowed|needs a value/g)?.length).toBe(3);
  });

  it('names env variables and config keys as the origin of a bad value', () => {
    expect(failure([], { FLUSSO_HTTP_PORT: 'eighty' }).message).toContain('FLUSSO_HTTP_PORT: "eighty" is not allowed');
    const files = { '/c.yaml': 'httpPort: eighty\nbogus: 1\n' };
    const msg = failure(['--config', '/c.yaml'], {}, files).message;
    expect(msg).toContain('httpPort in /c.yaml: "eighty" is not allowed');
    expect(msg).toContain('unknown key "bogus"');
  });

  it('reports an unreadable or malformed config file', () => {
    expect(failure(['--config', '/missing.yaml']).message).toContain('--config /missing.yaml: ENOENT');
    expect(failure(['--config', '/l.yaml'], {}, { '/l.yaml': '- a\n- b\n' }).message).toContain('must hold a YAML mapping');
  });

  it('answers help and version requests', () => {
    expect(parseCommandLine(['--help'], ctx()).kind).toBe('help');
    expect(parseCommandLine(['--version'], ctx()).kind).toBe('version');
  });
});

describe('helpText', () => {
  it('lists every flag with its env name and default', () => {
    const text = helpText(ctx());
    for (const spec of OPTIONS) {
      const flag = `--${spec.key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
      expect(text).toContain(flag);
    }
    expect(text).toContain('--http-port PORT');
    expect(text).toContain('(default: 8080)');
    expect(text).toContain('env FLUSSO_HTTP_PORT');
    expect(text).toContain('(default: 30s)');
    expect(text).toContain('available cores, 2 here');
  });
});

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['5s', 5000],
    ['1.5s', 1500],
    ['2m', 120000],
    ['1h', 3600000],
    ['5', undefined],
    ['s', undefined],
    ['-1s', undefined],
    ['5 minutes', undefined],
  ])('%s → %s', (text, want) => {
    expect(parseDuration(text)).toBe(want);
  });
});

describe('parseBytes', () => {
  it.each([
    ['1048576', 1048576],
    ['512Ki', 512 * 1024],
    ['128Mi', 128 * 1024 * 1024],
    ['1Gi', 2 ** 30],
    ['64k', 64000],
    ['10M', 10_000_000],
    ['1.5Mi', undefined],
    ['-1', undefined],
    ['12 MB', undefined],
    ['', undefined],
  ])('%s → %s', (text, want) => {
    expect(parseBytes(text)).toBe(want);
  });
});

describe('cache settings', () => {
  it('reads sizes with suffixes and the lock timeout', () => {
    const c = run(['--cache-default', 'on', '--cache-max-bytes', '1Gi', '--cache-max-object-bytes=2Mi', '--cache-lock-timeout', '250ms']);
    expect([c.cacheDefault, c.cacheMaxBytes, c.cacheMaxObjectBytes, c.cacheLockTimeoutMs]).toEqual(['on', 2 ** 30, 2 * 2 ** 20, 250]);
  });

  it('refuses an object bound above the cache bound, and sizes out of range', () => {
    expect(failure(['--cache-max-bytes', '1Mi', '--cache-max-object-bytes', '2Mi']).message).toContain('--cache-max-object-bytes (2097152) must not exceed --cache-max-bytes (1048576)');
    expect(failure(['--cache-max-bytes', '1k']).message).toContain('--cache-max-bytes: "1k" is not allowed');
    expect(failure(['--cache-default', 'yes']).message).toContain('--cache-default: "yes" is not allowed; one of: on, off');
  });
});
