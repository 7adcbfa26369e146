/**
 * LazyCompiledState: a CompiledState that arrived from the compile thread as bytes, decoded
 * on first use. Publishing needs only the table's bytes; the objects are needed for an
 * endpoint update, the admin API and scrapes, which may never come before the next compile.
 */
import { decodeTable, decodeValue } from '../../shared/codec.js';
import type { Diagnostic } from '../../shared/errors.js';
import type { RoutingTable } from '../../shared/snapshot.js';
import type { BackendUse } from '../compile/context.js';
import type { CompiledState } from '../compile/index.js';
import type { Compiled } from './compile-offload.js';
import type { EncodedState } from './compile-task.js';

/** LazyCompiledState decodes a Compiled result piece by piece, each piece once. */
export class LazyCompiledState {
  readonly diagnostics: readonly Diagnostic[];
  readonly ingresses: readonly string[];
  readonly tableBytes: Uint8Array;
  readonly #stateBytes: Uint8Array;
  #table: RoutingTable | undefined;
  #state: CompiledState | undefined;

  constructor(compiled: Compiled) {
    this.diagnostics = compiled.diagnostics;
    this.ingresses = compiled.ingresses;
    this.tableBytes = compiled.tableBytes;
    this.#stateBytes = compiled.stateBytes;
  }

  /** table decodes the routing table. */
  table(): RoutingTable {
    this.#table ??= decodeTable(this.tableBytes);
    return this.#table;
  }

  /** state decodes the whole CompiledState (for an endpoint update). */
  state(): CompiledState {
    if (this.#state !== undefined) return this.#state;
    const encoded = decodeValue(this.#stateBytes) as EncodedState;
    const uses = new Map<string, BackendUse>();
    for (const [id, namespace, service, port, sources] of encoded.uses) uses.set(id, { id, namespace, service, port, sources: new Set(sources) });
    this.#state = {
      table: this.table(),
      diagnostics: [...this.diagnostics],
      ingresses: this.ingresses,
      routeDiagnostics: encoded.routeDiagnostics,
      uses,
      backendDiagnostics: new Map(encoded.backendDiagnostics),
    };
    return this.#state;
  }
}
