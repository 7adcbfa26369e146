/**
 * The state the compile processors share while they build one RoutingTable. Each processor
 * reads what the earlier ones left and adds its own part; index.ts assembles the result.
 */
import type { Diagnostic, ErrorCode, Severity } from '../../shared/errors.js';
import type { Backend, Route } from '../../shared/snapshot.js';
import { quoteValue } from '../diagnostics.js';
import type { ObjectView, Ingress } from '../model.js';
import type { SelfListeners } from './self-listeners.js';

/** CompileOptions selects which Ingresses are ours. */
export interface CompileOptions {
  /** The class name matched against the legacy `kubernetes.io/ingress.class` annotation. */
  readonly ingressClass: string;
  /** The `spec.controller` value of the IngressClasses we implement. */
  readonly controllerName: string;
  /** Whether Ingresses that name no class at all are ours even without a default IngressClass. */
  readonly watchIngressWithoutClass: boolean;
  /** `--cache-default on`: every route is cached unless its Ingress says `flusso.dev/cache: "false"`. */
  readonly cacheDefault?: boolean;
  /** This Flusso's listeners: an endpoint that is one of them is not used (self-listeners.ts). */
  readonly self?: SelfListeners;
  /** ingress-nginx global-allowed-response-headers: the header names custom-headers may set (custom-headers-annotations.ts). */
  readonly globalAllowedResponseHeaders?: readonly string[];
  /** ingress-nginx add-headers / proxy-set-headers: `namespace/name` of the ConfigMaps of fields for every route. */
  readonly addHeaders?: string;
  readonly proxySetHeaders?: string;
}

/** BackendUse is one backend the routes reference: the Service port and who refers to it. */
export interface BackendUse {
  readonly id: string;
  readonly namespace: string;
  readonly service: string;
  readonly port: number | string;
  /** The protocol the Ingress's backend-protocol annotation asks for (compile/backend-protocol.ts); absent: the Service port's. */
  readonly protocol?: 'h2c' | 'h2';
  /** ingress-nginx `service-upstream` (service-upstream-annotations.ts): the one endpoint is the Service's ClusterIP and port. */
  readonly serviceUpstream?: true;
  /** ingress-nginx `load-balance: ewma` of the oldest Ingress using the backend (upstream-hash-annotations.ts); absent: round-robin. */
  readonly loadBalancer?: 'ewma';
  /** Keys of the Ingresses that reference this backend, oldest first. */
  readonly sources: Set<string>;
}

/**
 * PreviousBackends lets a compile take backends from the last one instead of resolving them
 * again: a backend is taken when its Service is not in `changedServices` (`namespace/name` of
 * every Service whose object or EndpointSlices changed since) and it is used exactly as before
 * (same Service port, same Ingresses in the same order, which the diagnostics name). The
 * result is the same as resolving it again, because resolving reads nothing else.
 */
export interface PreviousBackends {
  readonly uses: ReadonlyMap<string, BackendUse>;
  readonly backends: readonly Backend[];
  readonly backendDiagnostics: ReadonlyMap<string, readonly Diagnostic[]>;
  readonly changedServices: ReadonlySet<string>;
}

/** CompileState is what the processors share during one compile. */
export interface CompileState {
  readonly view: ObjectView;
  readonly opts: CompileOptions;
  /** Backends of the last compile that may be reused; absent: resolve every backend. */
  readonly previous?: PreviousBackends;
  readonly diagnostics: Diagnostic[];
  /** Our Ingresses, oldest first; set by the class processor. */
  ingresses: readonly Ingress[];
  /** host → (`match path` → route), in claim order; hosts appear with their first route. */
  readonly hosts: Map<string, Map<string, Route>>;
  defaultBackend: Route | null;
  /** backend id → use, for every backend a kept route or the default backend references. */
  readonly uses: Map<string, BackendUse>;
  /** The resolved backends, sorted by id; set by the services processor. */
  backends: readonly Backend[];
  /** backend id → the diagnostics its resolution raised; set by the services processor. */
  readonly backendDiagnostics: Map<string, readonly Diagnostic[]>;
  /** What ingress-nginx annotations ask of whole hosts (issue 15); read by host-annotations.ts. */
  readonly hostAnnotations: Map<string, HostAnnotations>;
  /** Ingress key → the backend id of its valid `default-backend` (default-backend-annotations.ts); read by custom-http-errors. */
  readonly defaultBackends: Map<string, string>;
}

/** HostAnnotations collects, per route host, the host-wide ingress-nginx annotations of its Ingresses. */
export interface HostAnnotations {
  /** `use-regex` or `rewrite-target` on an Ingress of the host: every path of the host is a regex. */
  regex: boolean;
  /** Each kept route → its path as written (a regex host matches the raw text). */
  readonly rawPaths: Map<Route, string>;
  /** `server-alias` names, with the Ingress that asked (oldest first). */
  readonly aliases: { readonly name: string; readonly ingress: string }[];
  /** `from-to-www-redirect`: the first Ingress that asked, and a route of it for the redirect's backend. */
  www: { readonly ingress: string; readonly route: Route } | null;
}

/** Processor is one compile step. It reads and extends the state; it never throws on user objects. */
export type Processor = (state: CompileState) => void;

/** report appends one diagnostic to the state. */
export function report(
  state: CompileState,
  code: ErrorCode,
  severity: Severity,
  object: string,
  message: string,
): void {
  state.diagnostics.push({ code, severity, object, message });
}

/**
 * compareText orders strings by UTF-16 code units. We never use localeCompare: its order
 * depends on the ICU data of the running Node.js, and the output must be byte-identical.
 */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * quote renders a user-supplied string for a message, escaping anything unprintable, and cut to
 * its first MAX_QUOTED_CHARS characters (a 1 MiB annotation value must not become a 1 MiB
 * diagnostic and log line; see ../diagnostics.ts).
 */
export function quote(value: string): string {
  return quoteValue(value);
}
