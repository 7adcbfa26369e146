/**
 * The compile task: what runs on the primary's compile thread (piscina). The thread keeps its
 * own ObjectStore, a mirror of the source's, fed with the objects that changed since the
 * last task; it compiles the mirror, encodes the table and returns bytes, so that neither
 * the 10,000 objects in nor the table out are structured-cloned object by object.
 *
 * Pure apart from the mirror it owns: no I/O, no clock, no logger.
 */
import type { Diagnostic } from '../../shared/errors.js';
import { encodeTable, encodeValue } from '../../shared/codec.js';
import { compileState, type CompiledState } from '../compile/index.js';
import type { CompileOptions } from '../compile/context.js';
import { keyOf, type KubeKind, type KubeObject } from '../model.js';
import { ObjectStore, sliceService } from '../store.js';
import { unpackObjectsNow, weightOf, type ObjectBatch } from './object-batch.js';

/** CompileTaskInput is one task: how to bring the mirror up to date, and the options. */
export interface CompileTaskInput {
  /** Empty the mirror first (the upserts are then every object). */
  readonly reset: boolean;
  /** The mirror version the primary believes the thread holds; ignored on reset. */
  readonly base: number;
  /** The version the mirror holds once this task applied its changes. */
  readonly version: number;
  /** The objects to store, as an object batch (object-batch.ts). */
  readonly upserts: ObjectBatch;
  readonly deletes: readonly (readonly [KubeKind, string])[];
  readonly opts: CompileOptions;
}

/**
 * CompileTaskOutput is a compiled table as bytes: `tableBytes` is encodeTable of the table
 * (the same bytes an in-loop compile gives), `stateBytes` the rest of the CompiledState an
 * endpoint update needs (see compiled-state.ts). `resync` asks for a reset: the mirror is
 * not at `base` (a new thread, or a task that failed half-way).
 */
export type CompileTaskOutput =
  | {
      readonly kind: 'compiled';
      readonly tableBytes: Uint8Array;
      readonly stateBytes: Uint8Array;
      readonly diagnostics: readonly Diagnostic[];
      readonly ingresses: readonly string[];
      /** What the mirror weighs now (object-batch.ts weightOf, summed): CompileOffload recycles a thread that shrank. */
      readonly weight: number;
    }
  | { readonly kind: 'resync' };

/** EncodedUse is a BackendUse as plain data: id, namespace, service, port, sources. */
export type EncodedUse = readonly [string, string, string, number | string, readonly string[]];

/** EncodedState is what `stateBytes` decodes to. */
export interface EncodedState {
  readonly routeDiagnostics: readonly Diagnostic[];
  readonly uses: readonly EncodedUse[];
  /** Only the backends that have diagnostics. */
  readonly backendDiagnostics: readonly (readonly [string, readonly Diagnostic[]])[];
}

/** createCompileTask returns a task function with its own mirror (one per thread). */
export function createCompileTask(): (input: CompileTaskInput) => CompileTaskOutput {
  let mirror = new ObjectStore();
  let version = 0;
  let weight = 0;
  /** The last compile, whose untouched backends the next one takes over. */
  let previous: CompiledState | undefined;
  return (input) => {
    if (input.reset) {
      mirror = new ObjectStore();
      previous = undefined;
      weight = 0;
    } else if (input.base !== version) return { kind: 'resync' };
    // Until this task completes the mirror is at no known version: a throw below forces a reset.
    version = -1;
    const changedServices = new Set<string>();
    const touch = (obj: KubeObject | undefined): void => {
      if (obj?.kind === 'Service') changedServices.add(keyOf(obj));
      const service = obj?.kind === 'EndpointSlice' ? sliceService(obj) : undefined;
      if (service !== undefined) changedServices.add(service);
    };
    for (const [kind, key] of input.deletes) {
      const old = mirror.get(kind, key);
      touch(old);
      if (old !== undefined) weight -= weightOf(old);
      mirror.delete(kind, key);
    }
    for (const obj of unpackObjectsNow(input.upserts)) {
      const old = mirror.get(obj.kind, keyOf(obj));
      touch(old);
      touch(obj);
      weight += weightOf(obj) - (old === undefined ? 0 : weightOf(old));
      mirror.upsert(obj);
    }
    const state = compileState(mirror, input.opts, previous === undefined ? undefined : { state: previous, changedServices });
    previous = state;
    const encoded: EncodedState = {
      routeDiagnostics: state.routeDiagnostics,
      uses: [...state.uses.values()].map((u) => [u.id, u.namespace, u.service, u.port, [...u.sources]]),
      backendDiagnostics: [...state.backendDiagnostics].filter(([, d]) => d.length > 0),
    };
    const out: CompileTaskOutput = {
      kind: 'compiled',
      // Copies: the codec's buffers are views into memory it reuses, and these leave the thread.
      tableBytes: copyBytes(encodeTable(state.table)),
      stateBytes: copyBytes(encodeValue(encoded)),
      diagnostics: state.diagnostics,
      ingresses: state.ingresses,
      weight,
    };
    version = input.version;
    return out;
  };
}

/** copyBytes copies bytes into an ArrayBuffer of their own (transferable, and safe from reuse). */
function copyBytes(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.byteLength);
  out.set(bytes);
  return out;
}
