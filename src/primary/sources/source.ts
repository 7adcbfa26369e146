/**
 * The interface every object source implements: the manifests directory (file-source.ts)
 * today, the Kubernetes API later.
 */
import type { Diagnostic } from '../../shared/errors.js';
import type { ObjectView, SecretView } from '../model.js';

/**
 * SourceUpdate is the state of a source after a change that matters. `view` is live: it
 * always shows the source's latest objects, so a consumer that compiles later (after a
 * holdoff) compiles the newest state. `diagnostics` are the source's own (for example
 * manifest parse errors), complete for this state.
 */
export interface SourceUpdate {
  readonly view: ObjectView;
  /** The source's TLS Secrets, live as `view` is. */
  readonly secrets: SecretView;
  readonly diagnostics: readonly Diagnostic[];
  /**
   * fileOf names the file an object (`Kind namespace/name`, as Diagnostic.object writes it)
   * comes from, when the source reads files; live as `view` is. The controller adds it to the
   * compiler's and the TLS manager's diagnostics.
   */
  readonly fileOf?: (object: string) => string | undefined;
  /**
   * The objects that changed since the previous update, when the source knows them; absent
   * means anything may have changed (the first update always counts as that).
   */
  readonly changes?: readonly SourceChange[];
}

/** SourceChange names one changed object. */
export interface SourceChange {
  /** The object's kind: `Ingress`, `IngressClass`, `Service`, `EndpointSlice`, or `Secret`. */
  readonly kind: string;
  /** `namespace/name` (the bare name for IngressClass). */
  readonly key: string;
  /** For an EndpointSlice: the Services (`namespace/name`) it belongs to, before and after the change. */
  readonly services?: readonly string[];
}

/** Source produces cluster objects and says when they change. */
export interface Source {
  /** start resolves after the first complete load; onUpdate is called for it and for every later change that matters. */
  start(onUpdate: (u: SourceUpdate) => void): Promise<void>;
  /** stop releases watchers and timers; no onUpdate call follows once it resolves. */
  stop(): Promise<void>;
  /** health tells, per watch of the source, whether it is listed and connected (for /metrics). */
  health(): readonly WatchHealth[];
}

/** WatchHealth is the state of one watch of a source. */
export interface WatchHealth {
  /** The watch, e.g. `ingresses`, `endpointslices in team-a`, or `directory` for the file source. */
  readonly watch: string;
  /** True once it has listed and while its stream is connected. */
  readonly up: boolean;
}
