/**
 * Configuration at the edge: flags, `FLUSSO_*` environment variables and a YAML `--config`
 * file, parsed once against one schema (flags win over env, env over the file, the file over
 * defaults). Every problem is collected and reported at once as ING_ERR_CONFIG_INVALID;
 * nothing else in the primary reads process.env.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parse as parseYaml } from 'yaml';
import { IngressError } from '../shared/errors.js';
import { OPTIONS, type OptionSpec } from './options.js';

/** Config is the validated, frozen configuration of one Flusso process. */
export interface Config {
  readonly source: 'file' | 'kubernetes';
  readonly manifests: string;
  readonly httpPort: number;
  readonly httpAddress: string;
  readonly httpsPort: number;
  readonly httpsAddress: string;
  /** --default-ssl-certificate as `namespace/name`; absent: a generated self-signed certificate. */
  readonly defaultSslCertificate?: string;
  /** --tls-dir; absent: a fresh directory on /dev/shm when it exists, else in the temp directory. */
  readonly tlsDir?: string;
  readonly sslCiphers: string;
  readonly hsts: boolean;
  readonly hstsMaxAge: number;
  readonly hstsIncludeSubdomains: boolean;
  readonly hstsPreload: boolean;
  readonly httpsRedirectPort: number;
  /** --http2: the HTTPS port offers h2 and runs on node:http2 (worker/proxy/node-front.ts, docs/http2.md). */
  readonly http2: boolean;
  readonly adminPort: number;
  readonly adminAddress: string;
  readonly workers: number;
  /** --spare-worker: a pre-forked worker replaces one that dies (workers.ts). */
  readonly spareWorker: boolean;
  readonly ingressClass: string;
  readonly controllerName: string;
  readonly watchIngressWithoutClass: boolean;
  /** --kubeconfig, else $KUBECONFIG; absent means in-cluster (when inCluster) or an error. */
  readonly kubeconfig?: string;
  /** KUBERNETES_SERVICE_HOST is set: we run in a pod. */
  readonly inCluster: boolean;
  /** Namespaces to watch; empty means all. */
  readonly watchNamespaces: readonly string[];
  readonly watchLabelSelector?: string;
  /** --publish-status-address split on commas; empty when not given. */
  readonly publishStatusAddresses: readonly string[];
  readonly publishService?: string;
  readonly updateStatusOnShutdown: boolean;
  readonly electionId: string;
  /** --election-namespace, else $POD_NAMESPACE, else `default`. */
  readonly electionNamespace: string;
  readonly electionLeaseDurationMs: number;
  readonly electionRenewDeadlineMs: number;
  readonly electionRetryPeriodMs: number;
  /** $POD_NAME (downward API), the base of the leader-election identity. */
  readonly podName?: string;
  readonly keepAliveTimeoutMs: number;
  readonly clientHeaderTimeoutMs: number;
  readonly maxRequestHeadBytes: number;
  readonly maxRequestTargetBytes: number;
  readonly maxRequestFieldBytes: number;
  readonly maxRequestFields: number;
  /** --max-request-body-bytes (0: no limit), --client-body-buffer-bytes, --client-body-timeout (worker/proxy/request-body.ts). */
  readonly maxRequestBodyBytes: number;
  readonly clientBodyBufferBytes: number;
  readonly clientBodyTimeoutMs: number;
  readonly upstreamConnectTimeoutMs: number;
  readonly upstreamResponseTimeoutMs: number;
  readonly upstreamIdleTimeoutMs: number;
  readonly upstreamKeepAliveTimeoutMs: number;
  readonly upstreamMaxConnections: number;
  readonly drainTimeoutMs: number;
  readonly websocketIdleTimeoutMs: number;
  readonly websocketMaxMessageBytes: number;
  readonly websocketMaxBufferedBytes: number;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
  readonly logFormat: 'json' | 'pretty';
  /** Access log sampling: 0 = off, 1 = every request, N = one request in N. */
  readonly accessLogEvery: number;
  /** --admin-token; absent means one is generated at start. */
  readonly adminToken?: string;
  readonly adminPublicRead: boolean;
  /** Workers count requests for /metrics (off only to measure the cost of counting). */
  readonly metrics: boolean;
  /** --metrics-ingress-nginx-compat: expose the nginx_ingress_controller_* family too. */
  readonly metricsIngressNginxCompat: boolean;
  /** --metrics-ingress-nginx-path: that family carries the path label. */
  readonly metricsIngressNginxPath: boolean;
  /** $POD_NAMESPACE (downward API): the controller_namespace label of that family. */
  readonly podNamespace?: string;
  /** --cache-default: cache every route unless its Ingress opts out. */
  readonly cacheDefault: 'on' | 'off';
  readonly cacheMaxBytes: number;
  readonly cacheMaxObjectBytes: number;
  readonly cacheLockTimeoutMs: number;
  /** --compile-offload: full compiles on a worker thread (auto: from OFFLOAD_MIN_INGRESSES Ingresses). */
  readonly compileOffload: 'auto' | 'on' | 'off';
}

/** CliRequest is what the command line asks for: run with a config, or print help / version. */
export type CliRequest = { readonly kind: 'run'; readonly config: Config } | { readonly kind: 'help' } | { readonly kind: 'version' };

/** ConfigContext is what the defaults depend on; injected so tests need no real environment. */
export interface ConfigContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cpus?: number;
  /** Directory of the bundled demo manifests, the file source's embedded default. */
  readonly demoManifests: string;
  readonly readFile?: (path: string) => string;
}

/**
 * parseCommandLine turns argv (without node and script) and the environment into a
 * CliRequest. It throws IngressError ING_ERR_CONFIG_INVALID listing every bad setting.
 */
export function parseCommandLine(argv: readonly string[], ctx: ConfigContext): CliRequest {
  const issues: string[] = [];
  const fromFlags = readFlags(argv, issues);
  if (fromFlags.has('help')) return { kind: 'help' };
  if (fromFlags.has('version')) return { kind: 'version' };

  const raw = new Map<string, { value: string | boolean; origin: string }>();
  const configPath = fromFlags.get('config') ?? ctx.env.FLUSSO_CONFIG;
  if (typeof configPath === 'string') readConfigFile(configPath, ctx, raw, issues);
  for (const spec of OPTIONS) {
    const envValue = ctx.env[envName(spec.key)];
    if (envValue !== undefined && spec.key !== 'config') raw.set(spec.key, { value: envValue, origin: envName(spec.key) });
  }
  for (const [key, value] of fromFlags) raw.set(key, { value, origin: `--${flagName(key)}` });

  const out: Record<string, unknown> = {};
  for (const spec of OPTIONS) {
    if (spec.key === 'config' || spec.key === 'help' || spec.key === 'version') continue;
    const given = raw.get(spec.key);
    const fallback = defaultFor(spec, ctx);
    const value = given === undefined ? fallback : coerce(spec, given.value, given.origin, issues);
    // Durations are carried in milliseconds, and their names say so (`drainTimeout` → `drainTimeoutMs`).
    out[spec.type === 'duration' ? `${spec.key}Ms` : spec.key] = value;
  }
  deriveKubernetesSettings(out, ctx.env, issues);
  deriveAdminSettings(out);
  if (Number(out.cacheMaxObjectBytes) > Number(out.cacheMaxBytes))
    issues.push(`--cache-max-object-bytes (${String(out.cacheMaxObjectBytes)}) must not exceed --cache-max-bytes (${String(out.cacheMaxBytes)})`);
  if (out.adminPort === out.httpPort && out.httpPort !== 0)
    issues.push(`--admin-port must differ from --http-port (both ${String(out.httpPort)}): the admin server never shares the proxy's port`);
  if (out.httpsPort !== 0 && (out.httpsPort === out.httpPort || out.httpsPort === out.adminPort))
    issues.push(`--https-port (${String(out.httpsPort)}) must differ from --http-port and --admin-port`);
  if (out.httpsRedirectPort === 0) issues.push('--https-redirect-port must be from 1 to 65535');
  if (out.metricsIngressNginxCompat === true && out.metrics === false)
    issues.push('--metrics-ingress-nginx-compat needs --metrics true: the family is made of the requests the workers count');
  if (out.metricsIngressNginxPath === true && out.metricsIngressNginxCompat !== true)
    issues.push('--metrics-ingress-nginx-path labels the ingress-nginx family: give --metrics-ingress-nginx-compat too');
  for (const k of ['defaultSslCertificate', 'tlsDir']) if (out[k] === undefined) delete out[k];
  if (issues.length > 0)
    throw new IngressError('ING_ERR_CONFIG_INVALID', `invalid configuration:\n  ${issues.join('\n  ')}\nRun "flusso --help" for the allowed values.`);
  return { kind: 'run', config: Object.freeze(out) as unknown as Config };
}

/**
 * deriveKubernetesSettings turns the raw Kubernetes flags into Config fields: comma lists
 * become arrays, and the standard Kubernetes variables (KUBECONFIG, POD_NAME, POD_NAMESPACE,
 * KUBERNETES_SERVICE_HOST) fill what the flags leave open.
 */
function deriveKubernetesSettings(out: Record<string, unknown>, env: ConfigContext['env'], issues: string[]): void {
  const list = (v: unknown): string[] => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter((s) => s !== '') : []);
  out.watchNamespaces = Object.freeze(list(out.watchNamespace));
  delete out.watchNamespace;
  out.publishStatusAddresses = Object.freeze(list(out.publishStatusAddress));
  delete out.publishStatusAddress;
  const kubeconfig = out.kubeconfig ?? (env.KUBECONFIG || undefined);
  if (kubeconfig === undefined) delete out.kubeconfig;
  else out.kubeconfig = kubeconfig;
  out.inCluster = Boolean(env.KUBERNETES_SERVICE_HOST);
  out.electionNamespace ??= env.POD_NAMESPACE || 'default';
  if (env.POD_NAME) out.podName = env.POD_NAME;
  if (env.POD_NAMESPACE) out.podNamespace = env.POD_NAMESPACE;
  for (const k of ['watchLabelSelector', 'publishService']) if (out[k] === undefined) delete out[k];
  if (Number(out.electionRenewDeadlineMs) >= Number(out.electionLeaseDurationMs))
    issues.push('--election-renew-deadline must be shorter than --election-lease-duration');
  if (Number(out.electionRetryPeriodMs) >= Number(out.electionRenewDeadlineMs))
    issues.push('--election-retry-period must be shorter than --election-renew-deadline');
}

/** deriveAdminSettings turns `--access-log` into a sampling rate and drops an unset token. */
function deriveAdminSettings(out: Record<string, unknown>): void {
  const mode = String(out.accessLog);
  out.accessLogEvery = mode === 'on' ? 1 : mode.startsWith('sample:') ? Number(mode.slice('sample:'.length)) : 0;
  delete out.accessLog;
  if (out.adminToken === undefined) delete out.adminToken;
}

/** helpText renders `--help`: every flag with its environment name and default. */
export function helpText(ctx: ConfigContext): string {
  const lines = ['Usage: flusso [flags]', '', 'Kubernetes Ingress controller: uWebSockets.js proxy workers, undici upstreams.', '', 'Flags (each also as env FLUSSO_<NAME> and as a camelCase key in the --config YAML file; flags win, then env, then the file):', ''];
  for (const spec of OPTIONS) {
    const long = spec.type === 'boolean' ? `--${flagName(spec.key)}` : `--${flagName(spec.key)} ${spec.metavar ?? 'VALUE'}`;
    const flag = spec.key === 'help' ? `-h, ${long}` : long;
    const def = describeDefault(spec, ctx);
    lines.push(`  ${flag}`);
    lines.push(`      ${spec.help}${def ? ` (default: ${def})` : ''}`);
    if (spec.key !== 'help' && spec.key !== 'version') lines.push(`      env ${envName(spec.key)}`);
  }
  lines.push('', 'Durations take a unit: 500ms, 5s, 2m. Exit status: 0 after a clean shutdown, 2 for invalid configuration, 1 for other startup failures (such as a port in use: every listener is bound once before the workers start).');
  return `${lines.join('\n')}\n`;
}

function readFlags(argv: readonly string[], issues: string[]): Map<string, string | boolean> {
  const out = new Map<string, string | boolean>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    // `-h` is the one short flag, as most tools have it; anything else starts with `--`.
    if (arg === '-h') {
      out.set('help', true);
      continue;
    }
    if (!arg.startsWith('--')) {
      issues.push(`unexpected argument "${arg}": flags start with --`);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    const spec = OPTIONS.find((o) => flagName(o.key) === name);
    if (!spec) {
      issues.push(`unknown flag --${name}`);
      continue;
    }
    if (spec.type === 'boolean') {
      // `--flag`, `--flag=false`, or `--flag false` (there are no positional arguments to confuse).
      const next = argv[i + 1];
      if (eq < 0 && (next === 'true' || next === 'false' || next === 'on' || next === 'off')) {
        out.set(spec.key, next);
        i++;
      } else out.set(spec.key, eq < 0 ? true : arg.slice(eq + 1));
      continue;
    }
    let value: string | undefined = eq < 0 ? argv[i + 1] : arg.slice(eq + 1);
    if (eq < 0) {
      if (value === undefined || value.startsWith('--')) {
        issues.push(`--${name} needs a value (${spec.allowed})`);
        continue;
      }
      i++;
    }
    out.set(spec.key, value as string);
    value = undefined;
  }
  return out;
}

function readConfigFile(path: string, ctx: ConfigContext, raw: Map<string, { value: string | boolean; origin: string }>, issues: string[]): void {
  let doc: unknown;
  try {
    doc = parseYaml((ctx.readFile ?? ((p) => readFileSync(p, 'utf8')))(path));
  } catch (err) {
    issues.push(`--config ${path}: ${(err as Error).message.split('\n')[0]}`);
    return;
  }
  if (doc === null || doc === undefined) return;
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    issues.push(`--config ${path}: the file must hold a YAML mapping of settings`);
    return;
  }
  for (const [key, value] of Object.entries(doc)) {
    const spec = OPTIONS.find((o) => o.key === key && o.key !== 'config' && o.key !== 'help' && o.key !== 'version');
    if (!spec) {
      issues.push(`--config ${path}: unknown key "${key}"`);
      continue;
    }
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      issues.push(`--config ${path}: "${key}" must be a scalar (${spec.allowed})`);
      continue;
    }
    raw.set(key, { value: typeof value === 'boolean' ? value : String(value), origin: `${key} in ${path}` });
  }
}

function coerce(spec: OptionSpec, value: string | boolean, origin: string, issues: string[]): unknown {
  const bad = (): undefined => {
    issues.push(`${origin}: "${String(value)}" is not allowed; ${spec.allowed}`);
    return undefined;
  };
  switch (spec.type) {
    case 'boolean': {
      if (typeof value === 'boolean') return value;
      const v = value.trim().toLowerCase();
      if (v === 'true' || v === '1' || v === 'yes' || v === 'on') return true;
      if (v === 'false' || v === '0' || v === 'no' || v === 'off') return false;
      return bad();
    }
    case 'port':
    case 'integer': {
      const s = String(value).trim();
      if (!/^\d+$/.test(s)) return bad();
      const n = Number(s);
      const [min, max] = spec.type === 'port' ? [0, 65535] : [spec.min ?? 0, spec.max ?? Number.MAX_SAFE_INTEGER];
      return n < min || n > max ? bad() : n;
    }
    case 'duration': {
      const ms = parseDuration(String(value));
      if (ms === undefined || ms < (spec.min ?? 1) || ms > (spec.max ?? 86_400_000)) return bad();
      return ms;
    }
    case 'bytes': {
      const n = parseBytes(String(value));
      if (n === undefined || n < (spec.min ?? 0) || n > (spec.max ?? Number.MAX_SAFE_INTEGER)) return bad();
      return n;
    }
    case 'enum': {
      const s = String(value).trim();
      return spec.values?.includes(s) ? s : bad();
    }
    case 'string': {
      const s = String(value).trim();
      if (s === '' || (spec.pattern && !spec.pattern.test(s))) return bad();
      return s;
    }
  }
}

/** parseBytes reads `1048576`, `512Ki`, `128Mi`, `1Gi`, `64k`, `10M`, `1G` (binary and decimal suffixes, as Kubernetes quantities). */
export function parseBytes(text: string): number | undefined {
  const m = /^\s*(\d+)\s*(|k|K|M|G|T|Ki|Mi|Gi|Ti)\s*$/.exec(text);
  if (!m) return undefined;
  const unit = { '': 1, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 }[m[2] as string] as number;
  const n = Number(m[1]) * unit;
  return Number.isSafeInteger(n) ? n : undefined;
}

/** parseDuration reads `500ms`, `5s`, `2m`, `1h` (a bare number is rejected: units are explicit). */
export function parseDuration(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$/.exec(text);
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  return Math.round(n * unit);
}

function defaultFor(spec: OptionSpec, ctx: ConfigContext): unknown {
  if (spec.key === 'workers') return ctx.cpus ?? availableParallelism();
  if (spec.key === 'manifests') return ctx.demoManifests;
  if (spec.key === 'source') return ctx.env.KUBERNETES_SERVICE_HOST ? 'kubernetes' : 'file';
  if (spec.type === 'duration') return parseDuration(String(spec.default));
  if (spec.type === 'bytes') return parseBytes(String(spec.default));
  return spec.default;
}

function describeDefault(spec: OptionSpec, ctx: ConfigContext): string {
  if (spec.key === 'workers') return `available cores, ${ctx.cpus ?? availableParallelism()} here`;
  if (spec.key === 'manifests') return 'the bundled demo manifests';
  if (spec.key === 'source') return 'kubernetes inside a pod, else file';
  return spec.default === undefined ? '' : String(spec.default);
}

function flagName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function envName(key: string): string {
  return `FLUSSO_${flagName(key).replace(/-/g, '_').toUpperCase()}`;
}
