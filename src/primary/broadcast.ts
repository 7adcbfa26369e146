/**
 * Snapshot broadcast: stamp a compiled RoutingTable with the schema version and the next
 * generation, encode it ONCE with msgpackr, and hand the same bytes to every worker. A table
 * that encodes to the same bytes as the last one (and unchanged overrides) is not re-sent.
 */
import { encodeSnapshot, encodeTable } from '../shared/codec.js';
import { NO_OVERRIDES, SNAPSHOT_VERSION, type Overrides, type RoutingTable } from '../shared/snapshot.js';

/** PublishResult says what publish did. */
export interface PublishResult {
  readonly changed: boolean;
  readonly generation: number;
  readonly bytes: number;
}

/** SnapshotSink receives encoded snapshots (the WorkerPool's publish). */
export type SnapshotSink = (snapshot: Uint8Array, generation: number) => void;

/** SnapshotBroadcaster turns tables into generations of encoded snapshots. */
export class SnapshotBroadcaster {
  readonly #sink: SnapshotSink;
  #generation = 0;
  #lastTable: Uint8Array | null = null;
  #lastOverrides: Overrides = NO_OVERRIDES;
  #lastSize = 0;

  constructor(sink: SnapshotSink) {
    this.#sink = sink;
  }

  /** generation is the newest generation published (0 before the first). */
  get generation(): number {
    return this.#generation;
  }

  /** publish sends a new generation unless table and overrides equal the last ones. */
  publish(table: RoutingTable, overrides: Overrides = this.#lastOverrides): PublishResult {
    const tableBytes = encodeTable(table);
    if (this.#lastTable !== null && overrides === this.#lastOverrides && Buffer.compare(tableBytes, this.#lastTable) === 0)
      return { changed: false, generation: this.#generation, bytes: this.#lastSize };
    const generation = this.#generation + 1;
    const bytes = encodeSnapshot({ version: SNAPSHOT_VERSION, generation, table, overrides });
    this.#generation = generation;
    this.#lastTable = tableBytes;
    this.#lastOverrides = overrides;
    this.#lastSize = bytes.byteLength;
    this.#sink(bytes, generation);
    return { changed: true, generation, bytes: bytes.byteLength };
  }
}
