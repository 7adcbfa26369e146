/**
 * Configuration at the edge: flags, `FLUSSO_*` environment variables and a YAML `--config`
 * file, parsed once against one schema (flags win over env, env over the file, the file over
 * defaults). Every problem is collected and reported at once as ING_ERR_CONFIG_INVALID;
 * nothing else in the primary reads process.env.
 */
import { invalidTrustedEntries } from '../shared/client-address.js';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parse as parseYaml } from 'yaml';
import { IngressError } from '../shared/errors.js';
import { OPTIONS, settingName, type DefaultContext, type OptionSpec, type OptionValues } from './options.js';

/** DerivedSettings are computed at start from the settings and the standard Kubernetes variables. */
interface DerivedSettings {
  /** `--access-log` as a sampling rate: 0 = off, 1 = every request, N = one request in N. */
  readonly accessLogEvery: number;
  /** KUBERNETES_SERVICE_HOST is set: we run in a pod. */
  readonly inCluster: boolean;
  /** $POD_NAME (downward API), the base of the leader-election identity. */
  readonly podName?: string;
  /** $POD_NAMESPACE (downward API): the controller_namespace label of the ingress-nginx family. */
  readonly podNamespace?: string;
}

/** REPLACED are the settings a DerivedSettings field carries instead (`accessLog` → `accessLogEvery`). */
const REPLACED = ['accessLog'] as const;

type Flatten<T> = { [K in keyof T]: T[K] };

/**
 * Config is the validated, deeply frozen configuration of one Flusso process: every setting of
 * the OPTIONS table under its own name (options.ts), and the DerivedSettings.
 */
export type Config = Flatten<Omit<OptionValues, (typeof REPLACED)[number]> & DerivedSettings>;

/** TABLE is OPTIONS seen entry by entry; SETTINGS are its entries that configure the running process. */
const TABLE: readonly OptionSpec[] = OPTIONS;
const SETTINGS: readonly OptionSpec[] = TABLE.filter((o) => o.cli !== true);

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
  for (const spec of SETTINGS) {
    const envValue = ctx.env[envName(spec.key)];
    if (envValue !== undefined) raw.set(spec.key, { value: envValue, origin: envName(spec.key) });
  }
  for (const [key, value] of fromFlags) raw.set(key, { value, origin: `--${flagName(key)}` });

  const out: Record<string, unknown> = {};
  const defaults: DefaultContext = { env: ctx.env, cpus: ctx.cpus ?? availableParallelism(), demoManifests: ctx.demoManifests };
  for (const spec of SETTINGS) {
    const given = raw.get(spec.key);
    const value = given === undefined ? defaultFor(spec, defaults) : coerce(spec, given.value, given.origin, issues);
    // A setting without a default and not given stays absent (an optional property of Config).
    if (value !== undefined) out[settingName(spec)] = value;
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
  const badCidrs = invalidTrustedEntries((out.proxyRealIpCidr as string[] | undefined) ?? []);
  if (badCidrs.length > 0) issues.push(`--proxy-real-ip-cidr: ${badCidrs.map((c) => `"${c}"`).join(', ')} ${badCidrs.length === 1 ? 'is' : 'are'} not a CIDR or an address`);
  if (issues.length > 0)
    throw new IngressError('ING_ERR_CONFIG_INVALID', `invalid configuration:\n  ${issues.join('\n  ')}\nRun "flusso --help" for the allowed values.`);
  if (!isConfig(out)) throw new Error('parseCommandLine: the parsed settings do not match the OPTIONS table');
  return { kind: 'run', config: deepFreeze(out) };
}

/**
 * deriveKubernetesSettings lets the standard Kubernetes variables (KUBECONFIG, POD_NAME,
 * POD_NAMESPACE, KUBERNETES_SERVICE_HOST) fill what the flags leave open.
 */
function deriveKubernetesSettings(out: Record<string, unknown>, env: ConfigContext['env'], issues: string[]): void {
  const kubeconfig = out.kubeconfig ?? (env.KUBECONFIG || undefined);
  if (kubeconfig !== undefined) out.kubeconfig = kubeconfig;
  out.inCluster = Boolean(env.KUBERNETES_SERVICE_HOST);
  if (env.POD_NAME) out.podName = env.POD_NAME;
  if (env.POD_NAMESPACE) out.podNamespace = env.POD_NAMESPACE;
  if (Number(out.electionRenewDeadlineMs) >= Number(out.electionLeaseDurationMs))
    issues.push('--election-renew-deadline must be shorter than --election-lease-duration');
  if (Number(out.electionRetryPeriodMs) >= Number(out.electionRenewDeadlineMs))
    issues.push('--election-retry-period must be shorter than --election-renew-deadline');
}

/** deriveAdminSettings turns `--access-log` into a sampling rate. */
function deriveAdminSettings(out: Record<string, unknown>): void {
  const mode = String(out.accessLog);
  out.accessLogEvery = mode === 'on' ? 1 : mode.startsWith('sample:') ? Number(mode.slice('sample:'.length)) : 0;
  delete out.accessLog;
}

/** DERIVED_TYPES is the run-time shape of DerivedSettings (`?`: may be absent). */
const DERIVED_TYPES: { readonly [K in keyof DerivedSettings]-?: 'number' | 'boolean' | 'string?' } = {
  accessLogEvery: 'number',
  inCluster: 'boolean',
  podName: 'string?',
  podNamespace: 'string?',
};

/**
 * isConfig checks the parsed settings against the table they came from, so the Config type is
 * earned, not asserted: every setting under its name with a value of its type (an enum's one of
 * its values), present unless it has no default, nothing else.
 */
export function isConfig(out: Readonly<Record<string, unknown>>): out is Config {
  const replaced: readonly string[] = REPLACED;
  const expected = new Set<string>();
  for (const spec of SETTINGS) {
    if (replaced.includes(spec.key)) continue;
    const name = settingName(spec);
    expected.add(name);
    const value = out[name];
    if (value === undefined) {
      if (spec.default !== undefined) return false;
      continue;
    }
    const ok =
      spec.type === 'boolean' ? typeof value === 'boolean'
      : spec.type === 'string' ? typeof value === 'string'
      : spec.type === 'enum' ? typeof value === 'string' && (spec.values ?? []).includes(value)
      : spec.type === 'list' ? Array.isArray(value) && value.every((v) => typeof v === 'string')
      : typeof value === 'number' && Number.isFinite(value);
    if (!ok) return false;
  }
  for (const [name, type] of Object.entries(DERIVED_TYPES)) {
    expected.add(name);
    const value = out[name];
    if (type === 'string?' ? value !== undefined && typeof value !== 'string' : typeof value !== type) return false;
  }
  return Object.keys(out).every((k) => expected.has(k));
}

/** deepFreeze freezes an object and everything it holds (a Config holds no cycles). */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** helpText renders `--help`: every flag with its environment name and default. */
export function helpText(ctx: ConfigContext): string {
  const lines = ['Usage: flusso [flags]', '       flusso bench URL [options]   (HTTP/1.1 load generator: flusso bench --help, docs/load-testing.md)', '', 'Kubernetes Ingress controller: uWebSockets.js proxy workers, undici upstreams.', '', 'Flags (each also as env FLUSSO_<NAME> and as a camelCase key in the --config YAML file; flags win, then env, then the file):', ''];
  const defaults: DefaultContext = { env: ctx.env, cpus: ctx.cpus ?? availableParallelism(), demoManifests: ctx.demoManifests };
  for (const spec of TABLE) {
    const long = spec.type === 'boolean' ? `--${flagName(spec.key)}` : `--${flagName(spec.key)} ${spec.metavar ?? 'VALUE'}`;
    const flag = spec.key === 'help' ? `-h, ${long}` : long;
    const def = describeDefault(spec, defaults);
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
    const spec = TABLE.find((o) => flagName(o.key) === name);
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
    const spec = SETTINGS.find((o) => o.key === key);
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
    case 'string':
    case 'list': {
      const s = String(value).trim();
      if (s === '' || (spec.pattern && !spec.pattern.test(s))) return bad();
      return spec.type === 'list' ? splitList(s) : s;
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

function defaultFor(spec: OptionSpec, ctx: DefaultContext): unknown {
  const value = typeof spec.default === 'function' ? spec.default(ctx) : spec.default;
  if (value === undefined) return undefined;
  if (spec.type === 'duration') return parseDuration(String(value));
  if (spec.type === 'bytes') return parseBytes(String(value));
  if (spec.type === 'list') return splitList(String(value));
  return value;
}

function describeDefault(spec: OptionSpec, ctx: DefaultContext): string {
  if (spec.defaultHelp !== undefined) return typeof spec.defaultHelp === 'function' ? spec.defaultHelp(ctx) : spec.defaultHelp;
  return spec.default === undefined || typeof spec.default === 'function' ? '' : String(spec.default);
}

function splitList(text: string): string[] {
  return text.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

function flagName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function envName(key: string): string {
  return `FLUSSO_${flagName(key).replace(/-/g, '_').toUpperCase()}`;
}
