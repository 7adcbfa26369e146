/**
 * Every error and diagnostic code Flusso emits, in one table. Each code has a line in
 * docs/errors.md (a unit test checks it). Codes cross the IPC boundary as plain strings:
 * compare by `code`, never with `instanceof`.
 */
export const ErrorCodes = {
  /** Operator errors: startup refuses to run. */
  ING_ERR_CONFIG_INVALID: 'a flag, environment variable or config file value is invalid',
  ING_ERR_CONFIG_TRUSTS_EVERY_PEER: 'a trusted-proxy setting trusts every peer to name the client',
  ING_ERR_UWS_NATIVE_MISSING: 'the native uWebSockets.js binding did not load',
  ING_ERR_LISTEN_FAILED: 'a listening port could not be bound',
  ING_ERR_STARTUP: 'Flusso could not start for a reason no other code covers (the message says which)',
  ING_ERR_K8S_CREDENTIALS: 'no usable Kubernetes credentials: no kubeconfig, no KUBECONFIG and not in a pod, or the kubeconfig cannot be read',

  /** Kubernetes API: logged, retried; the last snapshot keeps serving. */
  ING_ERR_K8S_API_UNREACHABLE: 'the Kubernetes API could not be listed or watched; retried with backoff while the last snapshot serves',
  ING_ERR_K8S_HANDLER: 'handling a watch event threw; the event was skipped and the watch goes on',
  ING_ERR_K8S_STATUS_UPDATE: 'writing an Ingress status failed; retried at the next sync',
  ING_ERR_K8S_LEADER_ELECTION: 'the leader-election Lease could not be read or written',
  ING_ERR_K8S_OBJECT_INVALID: 'an object from the Kubernetes API fails validation; its last good version stays in service',

  /** User-object diagnostics: the object is skipped, the rest of the configuration applies. */
  ING_ERR_MANIFEST_PARSE: 'a manifest file is not valid YAML',
  ING_ERR_MANIFEST_INVALID: 'an object in a manifest file fails validation',
  ING_ERR_MANIFEST_UNSUPPORTED_KIND: 'a manifest holds an object of a kind Flusso does not read',
  ING_ERR_MANIFEST_DUPLICATE: 'the same object is defined twice in the manifests directory',
  ING_ERR_MANIFEST_READ: 'a manifest file could not be read; the objects it held last time stay in service',
  ING_ERR_INGRESS_INVALID_HOST: 'an Ingress rule has a host that is not a valid DNS name or single-label wildcard',
  ING_ERR_INGRESS_INVALID_PATH: 'an Ingress path is empty, does not start with "/", or has an unsupported pathType',
  ING_ERR_INGRESS_BACKEND_UNSUPPORTED: 'an Ingress backend is a resource backend or names no service',
  ING_ERR_INGRESS_CONFLICT: 'a host and path is claimed by an older Ingress; this rule is ignored',
  ING_ERR_INGRESS_INVALID_ANNOTATION: 'a flusso.dev/ or supported nginx.ingress.kubernetes.io/ annotation of an Ingress has a value Flusso does not accept; the annotation is ignored',
  ING_ERR_HEADERS_CONFIGMAP_INVALID: 'the ConfigMap named by --add-headers or --proxy-set-headers is missing or holds a header Flusso does not accept; that setting has no effect',
  ING_ERR_INGRESS_DEFAULT_BACKEND_CONFLICT: 'an older Ingress already sets the default backend; this one is ignored',
  ING_ERR_INGRESS_CANARY_WITHOUT_MAIN: 'a canary Ingress names a host and path that no other Ingress routes; that path of the canary is ignored',
  ING_ERR_SERVICE_NOT_FOUND: 'an Ingress names a Service that does not exist (requests get 503)',
  ING_ERR_SERVICE_PORT_UNRESOLVED: 'an Ingress names a Service port the Service does not have (requests get 503)',
  ING_ERR_NO_ENDPOINTS: 'a Service has no ready endpoints for the referenced port (requests get 503)',
  ING_ERR_SERVICE_ENDPOINT_SELF: 'a Service endpoint is a listener of this Flusso (its HTTP, HTTPS or admin port on a local address); that endpoint is not used',
  ING_ERR_CLASS_NOT_FOUND: 'an Ingress names an IngressClass that does not exist',
  ING_ERR_INGRESS_UNSUPPORTED: 'an Ingress annotation or field Flusso does not act on; it is ignored (a warning, so a migrating user sees what does not carry over)',

  /** TLS: the host keeps its last good certificate, else the default one; workers never see a bad key pair. */
  ING_ERR_TLS_SECRET_NOT_FOUND: 'an Ingress names a TLS Secret that does not exist in its namespace',
  ING_ERR_TLS_SECRET_INVALID: 'a TLS Secret is not of type kubernetes.io/tls or lacks tls.crt or tls.key',
  ING_ERR_TLS_CERT_INVALID: 'the certificate of a TLS Secret does not parse (not PEM, truncated, or not X.509)',
  ING_ERR_TLS_KEY_INVALID: 'the private key of a TLS Secret does not parse, or is encrypted',
  ING_ERR_TLS_KEY_MISMATCH: 'the private key of a TLS Secret does not belong to its certificate',
  ING_ERR_TLS_CERT_EXPIRED: 'the certificate of a TLS Secret is outside its validity dates (expired, or not valid yet)',
  ING_ERR_TLS_CERT_HOST_MISMATCH: 'the certificate of a TLS Secret does not cover a host the Ingress names for it',
  ING_ERR_TLS_CERT_EXPIRING: 'a certificate in use expires within 14 days',
  ING_ERR_TLS_HOST_CONFLICT: 'an older Ingress already names a TLS Secret for this host; this one is ignored for it',
  ING_ERR_TLS_APPLY: 'a worker could not load the certificate files of a snapshot; new HTTPS connections keep the previous certificates (or that name gets the default one)',
  ING_ERR_TLS_DEFAULT_CERT: 'the --default-ssl-certificate Secret is missing or invalid; the generated self-signed certificate is served instead',

  /** Worker and process errors. */
  ING_ERR_SNAPSHOT_DECODE: 'a worker could not decode a snapshot and kept its previous one',
  ING_ERR_SNAPSHOT_VERSION: 'a worker received a snapshot of another schema version and kept its previous one',
  ING_ERR_SNAPSHOT_BUILD: 'a worker could not build its router or balancers and kept its previous snapshot',
  ING_ERR_WORKER_EXITED: 'a worker process exited unexpectedly and is being restarted',
  ING_ERR_WORKER_UNCAUGHT: 'a worker hit an exception outside any request and exits so the primary restarts it',
  ING_ERR_COMPILE_FAILED: 'compiling the routing table failed (on the compile thread or the event loop); the last published snapshot keeps serving',
  ING_ERR_PROXY_INTERNAL: 'a request handler threw; that request got 502 (or was cut) and the worker kept serving',
  ING_ERR_AUTH_FAILED: 'an auth-url check failed (connection, deadline, or a status other than 2xx/401/403); that request got 500',
  ING_ERR_AUTH_BUSY: 'a worker had too many authentication checks waiting; that request got 503',
} as const;

/** ErrorCode is one key of the ErrorCodes table. */
export type ErrorCode = keyof typeof ErrorCodes;

/** IngressError is the one error class Flusso throws; `code` identifies it. */
export class IngressError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'IngressError';
    this.code = code;
  }
}

/** Severity of a Diagnostic: an error drops the object or rule; a warning keeps it. */
export type Severity = 'error' | 'warning';

/**
 * Diagnostic is a problem found in user objects. It never stops a rebuild: the offending
 * object or rule is skipped and the rest applies. `object` is `Kind namespace/name`; `file`
 * is set by the file source.
 */
export interface Diagnostic {
  readonly code: ErrorCode;
  readonly severity: Severity;
  readonly object: string;
  readonly message: string;
  readonly file?: string;
}

/** WireError is an error as it crosses IPC. */
export interface WireError {
  readonly code: ErrorCode | string;
  readonly message: string;
}
