/**
 * The one schema of every setting Flusso accepts: flag, environment variable and config-file
 * key all derive from `key` (camelCase → `--kebab-case` → `FLUSSO_UPPER_SNAKE`), and so does
 * the `Config` type (config.ts): adding a setting is adding one entry to OPTIONS. A duration's
 * value is carried in milliseconds under `key` + `Ms` (`drainTimeout` → `drainTimeoutMs`);
 * every other setting keeps its key from the flag to the worker (docs/architecture.md).
 */

/** DefaultContext is what a computed default may read (the start-up environment, the machine). */
export interface DefaultContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cpus: number;
  /** Directory of the bundled demo manifests, the file source's embedded default. */
  readonly demoManifests: string;
}

/** OptionSpec describes one setting. */
export interface OptionSpec {
  readonly key: string;
  /** `list`: comma-separated, carried as a string array (`pattern` checks the whole text). */
  readonly type: 'string' | 'port' | 'integer' | 'duration' | 'bytes' | 'boolean' | 'enum' | 'list';
  readonly help: string;
  /** Human description of the allowed values, used in error messages. */
  readonly allowed: string;
  /** The value when none is given: a literal in the flag's own syntax, or computed at start. */
  readonly default?: string | number | boolean | ((ctx: DefaultContext) => string | number);
  /** How `--help` describes a computed default. */
  readonly defaultHelp?: string | ((ctx: DefaultContext) => string);
  readonly metavar?: string;
  readonly values?: readonly string[];
  readonly min?: number;
  readonly max?: number;
  readonly pattern?: RegExp;
  /** A command-line action (`--help`, `--version`, `--config`), not a setting of the running process. */
  readonly cli?: true;
}

const HOST = /^[A-Za-z0-9.:[\]-]+$/;

/** OPTIONS lists every setting in the order `--help` shows them. */
export const OPTIONS = [
  { key: 'source', type: 'enum', default: (ctx) => (ctx.env.KUBERNETES_SERVICE_HOST ? 'kubernetes' : 'file'), defaultHelp: 'kubernetes inside a pod, else file', values: ['file', 'kubernetes'], metavar: 'file|kubernetes', help: 'where Ingress, Service and EndpointSlice objects come from', allowed: 'one of: file, kubernetes' },
  { key: 'manifests', type: 'string', default: (ctx) => ctx.demoManifests, defaultHelp: 'the bundled demo manifests', metavar: 'DIR', help: 'directory of Kubernetes YAML files for --source file; watched for changes', allowed: 'a directory path' },
  { key: 'httpPort', type: 'port', default: 8080, metavar: 'PORT', help: 'proxy HTTP port, shared by every worker (SO_REUSEPORT)', allowed: 'an integer from 0 to 65535' },
  { key: 'httpAddress', type: 'string', default: '0.0.0.0', metavar: 'ADDR', pattern: HOST, help: 'address the proxy listens on', allowed: 'an IPv4 or IPv6 address' },
  { key: 'httpsPort', type: 'port', default: 8443, metavar: 'PORT', help: 'proxy HTTPS port, shared by every worker (SO_REUSEPORT); certificates from the Ingresses\' spec.tls', allowed: 'an integer from 0 to 65535' },
  { key: 'httpsAddress', type: 'string', default: '0.0.0.0', metavar: 'ADDR', pattern: HOST, help: 'address the HTTPS proxy listens on', allowed: 'an IPv4 or IPv6 address' },
  { key: 'defaultSslCertificate', type: 'string', metavar: 'NS/NAME', pattern: /^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, help: 'kubernetes.io/tls Secret served to HTTPS clients without SNI or with a name no Ingress claims (else a generated self-signed certificate)', allowed: 'namespace/name of a Secret' },
  { key: 'tlsDir', type: 'string', metavar: 'DIR', help: 'private directory (created 0700, emptied at exit) where validated certificates and keys are written for the workers; a memory filesystem is best', allowed: 'a directory path' },
  { key: 'sslCiphers', type: 'string', default: 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305', metavar: 'LIST', pattern: /^[A-Za-z0-9:+!_-]+$/, help: 'TLS 1.2 cipher list (OpenSSL syntax; TLS 1.3 suites are fixed); the default is ingress-nginx\'s without DHE', allowed: 'an OpenSSL cipher list' },
  { key: 'sslSessionTicketKey', type: 'string', metavar: 'FILE', help: 'file holding the TLS session ticket key: 48 bytes, raw or base64 (`openssl rand 48 | base64`, e.g. a Secret\'s key mounted as a file); replicas given the same key resume each other\'s tickets (ingress-nginx\'s ssl-session-ticket-key); without it each start makes a random key', allowed: 'a readable file of 48 bytes, or their base64' },
  { key: 'hsts', type: 'boolean', default: true, help: 'send Strict-Transport-Security on HTTPS responses (ingress-nginx\'s hsts)', allowed: 'true or false' },
  { key: 'hstsMaxAge', type: 'integer', default: 31536000, min: 0, max: 2 ** 31 - 1, metavar: 'SECONDS', help: 'HSTS max-age', allowed: 'an integer number of seconds' },
  { key: 'hstsIncludeSubdomains', type: 'boolean', default: true, help: 'HSTS includeSubDomains', allowed: 'true or false' },
  { key: 'hstsPreload', type: 'boolean', default: false, help: 'HSTS preload', allowed: 'true or false' },
  { key: 'httpsRedirectPort', type: 'port', default: 443, metavar: 'PORT', help: 'port in the Location of HTTP → HTTPS redirects: the HTTPS port clients reach (the Service\'s), not --https-port', allowed: 'an integer from 1 to 65535' },
  { key: 'http2', type: 'boolean', default: true, help: 'offer HTTP/2 (ALPN h2) beside HTTP/1.1 on the HTTPS port, served by node:http2 (ingress-nginx\'s use-http2); off: HTTP/1.1 only, served by uWebSockets.js (docs/http2.md)', allowed: 'on or off' },
  { key: 'adminPort', type: 'port', default: 8081, metavar: 'PORT', help: 'admin port: /healthz, /readyz, /api/v1/ (never the proxy port)', allowed: 'an integer from 0 to 65535' },
  { key: 'adminAddress', type: 'string', default: '127.0.0.1', metavar: 'ADDR', pattern: HOST, help: 'address the admin server listens on', allowed: 'an IPv4 or IPv6 address' },
  { key: 'workers', type: 'integer', default: (ctx) => ctx.cpus, defaultHelp: (ctx) => `available cores, ${ctx.cpus} here`, min: 1, max: 256, metavar: 'N', help: 'number of proxy worker processes', allowed: 'an integer from 1 to 256' },
  { key: 'spareWorker', type: 'boolean', default: true, help: 'keep one extra worker process started and loaded, not listening, to replace a worker that dies at once (costs one idle process\'s memory)', allowed: 'true or false' },
  { key: 'ingressClass', type: 'string', default: 'flusso', metavar: 'NAME', pattern: /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, help: 'value of the legacy kubernetes.io/ingress.class annotation that selects us', allowed: 'a DNS-1123 name' },
  { key: 'controllerName', type: 'string', default: 'flusso.dev/ingress-controller', metavar: 'NAME', pattern: /^[A-Za-z0-9.-]+\/[A-Za-z0-9._/-]+$/, help: 'IngressClass spec.controller value that selects us', allowed: 'a domain-prefixed path such as example.com/controller' },
  { key: 'watchIngressWithoutClass', type: 'boolean', default: false, help: 'also serve Ingresses that name no class (without a default IngressClass)', allowed: 'true or false' },
  { key: 'kubeconfig', type: 'string', metavar: 'FILE', help: 'kubeconfig for --source kubernetes (else $KUBECONFIG, else the in-cluster service account)', allowed: 'a file path' },
  { key: 'watchNamespace', type: 'list', default: '', metavar: 'NS[,NS]', pattern: /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(,[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, help: 'watch only these namespaces (IngressClasses stay cluster-wide)', allowed: 'comma-separated namespace names' },
  { key: 'watchLabelSelector', type: 'string', metavar: 'SELECTOR', help: 'label selector narrowing the Ingresses watched, e.g. team=web', allowed: 'a Kubernetes label selector' },
  { key: 'publishStatusAddress', type: 'list', default: '', metavar: 'ADDR[,ADDR]', pattern: /^[A-Za-z0-9.:-]+(,[A-Za-z0-9.:-]+)*$/, help: 'addresses written to status.loadBalancer.ingress of our Ingresses (IPs, or hostnames)', allowed: 'comma-separated IP addresses or hostnames' },
  { key: 'publishService', type: 'string', metavar: 'NS/NAME', pattern: /^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, help: 'Service whose LoadBalancer ingress (else ClusterIP) is written to our Ingresses\' status', allowed: 'namespace/name of a Service' },
  { key: 'updateStatusOnShutdown', type: 'boolean', default: true, help: 'on shutdown, the leader removes our address from the Ingresses\' status', allowed: 'true or false' },
  { key: 'electionId', type: 'string', default: 'flusso-leader', metavar: 'NAME', pattern: /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, help: 'name of the coordination.k8s.io Lease electing the replica that writes Ingress status', allowed: 'a DNS-1123 name' },
  { key: 'electionNamespace', type: 'string', default: (ctx) => ctx.env.POD_NAMESPACE || 'default', defaultHelp: '$POD_NAMESPACE, else default', metavar: 'NS', pattern: /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, help: 'namespace of the election Lease', allowed: 'a namespace name' },
  { key: 'electionLeaseDuration', type: 'duration', default: '15s', metavar: 'DURATION', min: 1000, max: 600_000, help: 'how long a leader\'s Lease holds without renewal before another replica may take it', allowed: 'a duration from 1s to 10m, e.g. 15s' },
  { key: 'electionRenewDeadline', type: 'duration', default: '10s', metavar: 'DURATION', min: 500, max: 600_000, help: 'a leader that could not renew for this long stops writing (below --election-lease-duration)', allowed: 'a duration from 500ms to 10m, e.g. 10s' },
  { key: 'electionRetryPeriod', type: 'duration', default: '2s', metavar: 'DURATION', min: 100, max: 60_000, help: 'how often replicas try to acquire or renew the Lease', allowed: 'a duration from 100ms to 1m, e.g. 2s' },
  { key: 'keepAliveTimeout', type: 'duration', default: '75s', metavar: 'DURATION', min: 1000, max: 960_000, help: 'how long an idle client keep-alive connection stays open (as ingress-nginx\'s keep-alive; uWS counts in steps of 4s)', allowed: 'a duration from 1s to 16m, e.g. 75s' },
  { key: 'clientHeaderTimeout', type: 'duration', default: '60s', metavar: 'DURATION', min: 1000, max: 960_000, help: 'how long a client may take to send a request head before its connection is closed; a request body must also arrive at 16 KiB/s or more on average over this window (uWS; as ingress-nginx\'s client-header-timeout and client-body-timeout; steps of 4s)', allowed: 'a duration from 1s to 16m, e.g. 60s' },
  { key: 'maxRequestHeadBytes', type: 'bytes', default: '32Ki', metavar: 'SIZE', min: 1024, max: 256 * 1024, help: 'largest request head (request line and header fields) a client may send; larger ones get 431 (ingress-nginx accepts 4 x 8k)', allowed: 'a size from 1Ki to 256Ki, e.g. 32Ki' },
  { key: 'maxRequestTargetBytes', type: 'bytes', default: '8Ki', metavar: 'SIZE', min: 256, max: 256 * 1024, help: 'longest request target (path and query) a client may send; longer ones get 414 (ingress-nginx: one 8k buffer for the request line); a target that also makes the head larger than --max-request-head-bytes gets 431', allowed: 'a size from 256 to 256Ki, e.g. 8Ki' },
  { key: 'maxRequestFieldBytes', type: 'bytes', default: '8Ki', metavar: 'SIZE', min: 256, max: 256 * 1024, help: 'longest header field line (name, colon, space and value) a client may send; longer ones get 431 (ingress-nginx: one 8k buffer per line, answered 400)', allowed: 'a size from 256 to 256Ki, e.g. 8Ki' },
  { key: 'maxRequestFields', type: 'integer', default: 98, min: 1, max: 98, metavar: 'N', help: 'most header fields in a request; more get 431 (98 is the most this uWebSockets.js build parses: it answers 431 itself above that)', allowed: 'an integer from 1 to 98' },
  { key: 'maxRequestBodyBytes', type: 'bytes', default: '1Mi', metavar: 'SIZE', min: 0, max: 2 ** 40, help: 'largest request body; larger ones get 413, by Content-Length before any byte goes upstream (ingress-nginx proxy-body-size, default 1m); 0: no limit; an Ingress may set its own', allowed: 'a size from 0 (no limit) to 1Ti, e.g. 1Mi' },
  { key: 'clientBodyBufferBytes', type: 'bytes', default: '16Ki', metavar: 'SIZE', min: 0, max: 64 * 1024 * 1024, help: 'request bodies up to this size are read whole in the worker before the upstream request starts, so a slow client holds no upstream connection (nginx request buffering, client_body_buffer_size); larger ones stream once this much has arrived; 0: stream at once', allowed: 'a size from 0 to 64Mi, e.g. 16Ki' },
  { key: 'clientBodyTimeout', type: 'duration', default: '60s', metavar: 'DURATION', min: 1, max: 3_600_000, help: 'longest wait for the next request body bytes; 408 when it passes before the response started (nginx client_body_timeout)', allowed: 'a duration from 1ms to 1h, e.g. 60s' },
  { key: 'upstreamConnectTimeout', type: 'duration', default: '5s', metavar: 'DURATION', min: 1, max: 600_000, help: 'upstream connect timeout (504 when it fires)', allowed: 'a duration from 1ms to 10m, e.g. 5s' },
  { key: 'upstreamResponseTimeout', type: 'duration', default: '60s', metavar: 'DURATION', min: 1, max: 3_600_000, help: 'time to wait for the upstream response headers (504 when it fires)', allowed: 'a duration from 1ms to 1h, e.g. 60s' },
  { key: 'upstreamIdleTimeout', type: 'duration', default: '60s', metavar: 'DURATION', min: 1, max: 3_600_000, help: 'longest gap between two upstream body chunks before the response is cut', allowed: 'a duration from 1ms to 1h, e.g. 60s' },
  { key: 'upstreamKeepAliveTimeout', type: 'duration', default: '4s', metavar: 'DURATION', min: 1, max: 600_000, help: 'how long an idle upstream connection is kept (keep below the upstreams\' own idle timeout)', allowed: 'a duration from 1ms to 10m, e.g. 4s' },
  { key: 'upstreamMaxConnections', type: 'integer', default: 128, min: 1, max: 65535, metavar: 'N', help: 'most connections per upstream endpoint per worker', allowed: 'an integer from 1 to 65535' },
  { key: 'websocketIdleTimeout', type: 'duration', default: '60s', metavar: 'DURATION', min: 1000, max: 86_400_000, help: 'a proxied WebSocket with no message either way for this long is closed with 1001 (ingress-nginx: proxy-read-timeout)', allowed: 'a duration from 1s to 24h, e.g. 60s' },
  { key: 'websocketMaxMessageBytes', type: 'bytes', default: '4Mi', metavar: 'SIZE', min: 1024, max: 1024 * 1024 * 1024, help: 'largest WebSocket message proxied either way; a larger one closes the connection with 1009 (a message is held whole while it crosses)', allowed: 'a size from 1Ki to 1Gi, e.g. 4Mi' },
  { key: 'websocketMaxBufferedBytes', type: 'bytes', default: '1Mi', metavar: 'SIZE', min: 16 * 1024, max: 1024 * 1024 * 1024, help: 'per WebSocket, bytes waiting for a slow reader before the other side is paused (backend) or closed with 1013 (client; uWS cannot pause it)', allowed: 'a size from 16Ki to 1Gi, e.g. 1Mi' },
  { key: 'drainTimeout', type: 'duration', default: '30s', metavar: 'DURATION', min: 0, max: 3_600_000, help: 'on SIGTERM, how long in-flight requests may take to finish', allowed: 'a duration up to 1h, e.g. 30s' },
  { key: 'cacheDefault', type: 'enum', default: 'off', values: ['on', 'off'], metavar: 'on|off', help: 'response cache on every route (an Ingress opts out with flusso.dev/cache: "false"); off: only Ingresses annotated flusso.dev/cache: "true"', allowed: 'one of: on, off' },
  { key: 'cacheMaxBytes', type: 'bytes', default: '128Mi', metavar: 'SIZE', min: 64 * 1024, max: 2 ** 40, help: 'bound on each worker\'s response cache (bodies, headers and keys); least recently used entries leave first', allowed: 'a size from 64Ki to 1Ti, e.g. 128Mi' },
  { key: 'cacheMaxObjectBytes', type: 'bytes', default: '8Mi', metavar: 'SIZE', min: 1024, max: 2 ** 40, help: 'largest response the cache stores; larger ones stream through and are never buffered', allowed: 'a size from 1Ki to 1Ti (and at most --cache-max-bytes), e.g. 8Mi' },
  { key: 'rateLimitStatus', type: 'enum', default: '503', values: ['503', '429'], metavar: '503|429', help: 'status of a request over its Ingress\'s limit-rps or limit-rpm (ingress-nginx\'s limit-req-status-code; docs/rate-limits.md)', allowed: 'one of: 503, 429' },
  { key: 'cacheLockTimeout', type: 'duration', default: '5s', metavar: 'DURATION', min: 0, max: 600_000, help: 'how long a request waits for another request\'s fetch of the same cache key before it goes upstream itself', allowed: 'a duration up to 10m, e.g. 5s' },
  { key: 'compileOffload', type: 'enum', default: 'auto', values: ['auto', 'on', 'off'], metavar: 'auto|on|off', help: 'compile and encode the routing table on a worker thread so the primary\'s event loop stays free (auto: from 2,000 paths, one Ingress counting as one path more)', allowed: 'one of: auto, on, off' },
  { key: 'globalAllowedResponseHeaders', type: 'list', default: '', metavar: 'NAME[,NAME]', pattern: /^[A-Za-z0-9_-]+(,[A-Za-z0-9_-]+)*$/, help: 'header names an Ingress\'s custom-headers ConfigMap may set, matched exactly (ingress-nginx\'s global-allowed-response-headers; empty: none, as ingress-nginx 1.12)', allowed: 'comma-separated header names' },
  { key: 'addHeaders', type: 'string', metavar: 'NS/NAME', pattern: /^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, help: 'ConfigMap whose data are response header fields added to every response (ingress-nginx\'s add-headers)', allowed: 'namespace/name of a ConfigMap' },
  { key: 'proxySetHeaders', type: 'string', metavar: 'NS/NAME', pattern: /^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, help: 'ConfigMap whose data are header fields set on every upstream request; values may use $host, $uri, $request_uri, $remote_addr, $scheme, $args, $http_NAME, $cookie_NAME, $arg_NAME (ingress-nginx\'s proxy-set-headers)', allowed: 'namespace/name of a ConfigMap' },
  { key: 'useForwardedHeaders', type: 'boolean', default: false, help: 'trust the client address in --forwarded-for-header, and X-Forwarded-Proto / X-Forwarded-Port, from peers in --proxy-real-ip-cidr (ingress-nginx\'s use-forwarded-headers; docs/client-address.md)', allowed: 'true or false' },
  { key: 'enableRealIp', type: 'boolean', default: false, help: 'trust the client address in --forwarded-for-header from peers in --proxy-real-ip-cidr, and no other forwarded field (ingress-nginx\'s enable-real-ip)', allowed: 'true or false' },
  { key: 'forwardedForHeader', type: 'string', default: 'X-Forwarded-For', metavar: 'NAME', pattern: /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, help: 'field a trusted proxy names the client in (its list is walked from the right past trusted addresses, as nginx\'s real_ip_recursive)', allowed: 'a header field name' },
  { key: 'computeFullForwardedFor', type: 'boolean', default: false, help: 'with --use-forwarded-headers, send upstream the client\'s X-Forwarded-For list with the peer appended, instead of the client address alone (ingress-nginx\'s compute-full-forwarded-for)', allowed: 'true or false' },
  { key: 'proxyRealIpCidr', type: 'list', default: '0.0.0.0/0', metavar: 'CIDR[,CIDR]', pattern: /^[0-9A-Fa-f.:/]+(,[0-9A-Fa-f.:/]+)*$/, help: 'peers trusted to name the client (forwarded headers, PROXY protocol); the default, ingress-nginx\'s, trusts every IPv4 peer', allowed: 'comma-separated IPv4/IPv6 CIDRs or addresses' },
  { key: 'useProxyProtocol', type: 'boolean', default: false, help: 'every connection to the HTTP port starts with a PROXY protocol v2 header (v1 is not supported by this uWebSockets.js build; not on the HTTPS port); a trusted peer\'s names the client', allowed: 'true or false' },
  { key: 'logFormat', type: 'enum', default: 'json', values: ['json', 'pretty'], metavar: 'json|pretty', help: 'log format: JSON lines for machines, or one readable line per record for people', allowed: 'one of: json, pretty' },
  { key: 'accessLog', type: 'string', default: 'off', metavar: 'on|off|sample:N', pattern: /^(on|off|sample:[1-9][0-9]{0,8})$/, help: 'access log of proxied requests (ingress-nginx fields), every request, none, or one in N', allowed: 'on, off, or sample:N with N from 1' },
  { key: 'adminToken', type: 'string', metavar: 'TOKEN', pattern: /^[A-Za-z0-9._~+\/=-]{16,256}$/, help: 'bearer token for the admin API and /metrics (generated and logged once at start when not given)', allowed: '16 to 256 token characters' },
  { key: 'adminPublicRead', type: 'boolean', default: false, help: 'let the admin API, /metrics and the GUI read without the token (mutations still need it)', allowed: 'true or false' },
  { key: 'metrics', type: 'boolean', default: true, help: 'count requests in the workers for /metrics and the GUI (off only to measure what counting costs)', allowed: 'true or false' },
  { key: 'metricsIngressNginxCompat', type: 'boolean', default: false, help: 'also expose the ingress-nginx metric family (nginx_ingress_controller_*) so dashboards and alerts built for ingress-nginx keep working', allowed: 'true or false' },
  { key: 'metricsIngressNginxPath', type: 'boolean', default: false, help: 'add the path label (each route\'s Ingress path) to that family; one series per path, as ingress-nginx does', allowed: 'true or false' },
  { key: 'logLevel', type: 'enum', default: 'info', values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace'], metavar: 'LEVEL', help: 'log level', allowed: 'one of: fatal, error, warn, info, debug, trace' },
  { key: 'config', cli: true, type: 'string', metavar: 'FILE', help: 'YAML file of settings (camelCase keys, e.g. httpPort: 9000)', allowed: 'a file path' },
  { key: 'help', cli: true, type: 'boolean', help: 'print this help and exit', allowed: '' },
  { key: 'version', cli: true, type: 'boolean', help: 'print the version and exit', allowed: '' },
] as const satisfies readonly OptionSpec[];

type Option = (typeof OPTIONS)[number];
type Setting = Exclude<Option, { readonly cli: true }>;

/** ValueOf is the type a setting is carried as: an enum's values, a list's strings, else by its type. */
type ValueOf<S extends Pick<OptionSpec, 'type'>> = S extends { readonly values: readonly (infer V)[] }
  ? V
  : S['type'] extends 'boolean'
    ? boolean
    : S['type'] extends 'string'
      ? string
      : S['type'] extends 'list'
        ? readonly string[]
        : number;

/** SettingName is a setting's property name: its key, and a duration's says its unit. */
export type SettingName<S extends Pick<OptionSpec, 'key' | 'type'>> = S['type'] extends 'duration' ? `${S['key']}Ms` : S['key'];

/**
 * OptionValues is the parsed value of every setting in OPTIONS, derived from the table: a
 * setting with a default (literal or computed) is always there, one without is optional.
 */
export type OptionValues = {
  readonly [S in Setting as S extends { readonly default: unknown } ? SettingName<S> : never]: ValueOf<S>;
} & {
  readonly [S in Setting as S extends { readonly default: unknown } ? never : SettingName<S>]?: ValueOf<S>;
};

/** settingName is SettingName at run time. */
export function settingName(spec: OptionSpec): string {
  return spec.type === 'duration' ? `${spec.key}Ms` : spec.key;
}
