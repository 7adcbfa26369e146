/**
 * The interface every object source implements: the manifests directory (file-source.ts)
 * today, the Kubernetes API later.
 */
import type { Diagnostic } from '../../shared/errors.js';
import type { ClusterView } from '../model.js';

/**
 * SourceUpdate is the state of a source after a change that matters. `view` is live: it
 * always shows the source's latest objects, so a consumer that compiles later (after a
 * holdoff) compiles the newest state. `diagnostics` are the source's own (for example
 * manifest parse errors), complete for this state.
 */
export interface SourceUpdate {
  readonly view: ClusterView;
  readonly diagnostics: readonly Diagnostic[];
}

/** Source produces cluster objects and says when they change. */
export interface Source {
  /** start resolves after the first complete load; onUpdate is called for it and for every later change that matters. */
  start(onUpdate: (u: SourceUpdate) => void): Promise<void>;
  /** stop releases watchers and timers; no onUpdate call follows once it resolves. */
  stop(): Promise<void>;
}
