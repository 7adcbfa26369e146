/**
 * The settings a worker runs with, taken from the primary's Config under the same names
 * (`--upstream-response-timeout` is `upstreamResponseTimeoutMs` in both), so a setting is
 * found by one name from the flag to the worker (docs/architecture.md).
 */
import type { WorkerConfig } from '../shared/messages.js';
import type { Config } from './config.js';
import type { ClientAddressSettings } from '../shared/client-address.js';

/**
 * PASSED_SETTINGS are the Config settings a worker receives as they are. The list is checked
 * against both types: a name that is not the same in Config and WorkerConfig does not compile.
 */
const PASSED_SETTINGS = [
  'httpPort',
  'httpAddress',
  'keepAliveTimeoutMs',
  'clientHeaderTimeoutMs',
  'maxRequestHeadBytes',
  'maxRequestTargetBytes',
  'maxRequestFieldBytes',
  'maxRequestFields',
  'maxRequestBodyBytes',
  'clientBodyBufferBytes',
  'clientBodyTimeoutMs',
  'upstreamConnectTimeoutMs',
  'upstreamResponseTimeoutMs',
  'upstreamIdleTimeoutMs',
  'upstreamKeepAliveTimeoutMs',
  'upstreamMaxConnections',
  'drainTimeoutMs',
  'websocketIdleTimeoutMs',
  'websocketMaxMessageBytes',
  'websocketMaxBufferedBytes',
  'logLevel',
  'logFormat',
  'accessLogEvery',
  'metrics',
  'metricsIngressNginxCompat',
  'metricsIngressNginxPath',
  'cacheMaxBytes',
  'cacheMaxObjectBytes',
  'cacheLockTimeoutMs',
] as const satisfies readonly (keyof Config & keyof WorkerConfig)[];

/** WORKER_LOG_FD is the worker's log stream: fd 3, the pipe the primary forwards to its stdout. */
const WORKER_LOG_FD = 3;

/**
 * workerConfigFor is the WorkerConfig of every worker of a primary started with `config`;
 * `sessionTicketKeys` are the TLS ticket keys all of them share (made once per primary).
 */
export function workerConfigFor(config: Config, serverHeader: string, sessionTicketKeys?: Uint8Array): WorkerConfig {
  const passed = {} as Pick<Config, (typeof PASSED_SETTINGS)[number]>;
  for (const name of PASSED_SETTINGS) Object.assign(passed, { [name]: config[name] });
  return {
    ...passed,
    // The HTTPS settings travel as one group (proxy/tls-front.ts): https.port is --https-port, and so on.
    https: { port: config.httpsPort, address: config.httpsAddress, ciphers: config.sslCiphers, hsts: hstsValue(config), redirectPort: config.httpsRedirectPort, http2: config.http2, ...(sessionTicketKeys === undefined ? {} : { sessionTicketKeys }) },
    logFd: WORKER_LOG_FD,
    serverHeader,
    // Every limit is shared by all the workers (docs/rate-limits.md).
    rateLimit: { status: Number(config.rateLimitStatus), workers: config.workers },
    ...(clientAddressOf(config) === null ? {} : { clientAddress: clientAddressOf(config) as ClientAddressSettings }),
  };
}

/** clientAddressOf is the trusted-proxy settings of the workers (docs/client-address.md); null: the socket's peer is the client. */
export function clientAddressOf(config: Config): ClientAddressSettings | null {
  const header = config.useForwardedHeaders || config.enableRealIp;
  // A --forwarded-for-header of another name still names the field X-Original-Forwarded-For carries.
  if (!header && !config.useProxyProtocol && !config.computeFullForwardedFor && config.forwardedForHeader.toLowerCase() === 'x-forwarded-for') return null;
  return {
    // As ingress-nginx's template: with PROXY protocol, the realip module reads its header only.
    source: config.useProxyProtocol ? 'proxy-protocol' : header ? 'header' : 'none',
    header: config.forwardedForHeader.toLowerCase(),
    passForwarded: config.useForwardedHeaders,
    computeFullForwardedFor: config.computeFullForwardedFor,
    trusted: config.proxyRealIpCidr,
  };
}

/** hstsValue renders the Strict-Transport-Security value of the --hsts settings. */
export function hstsValue(config: Config): string | null {
  if (!config.hsts) return null;
  return `max-age=${config.hstsMaxAge}${config.hstsIncludeSubdomains ? '; includeSubDomains' : ''}${config.hstsPreload ? '; preload' : ''}`;
}
